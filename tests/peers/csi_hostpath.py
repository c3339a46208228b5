#!/usr/bin/python3
"""The controller side of a host-path CSI driver, for the Kubernetes rig.

The real CSI external-provisioner (kubernetes-csi/external-provisioner,
built by tests/peers/kube/build.sh) provisions the rig's `hoist-csi` and
`hoist-csi-wffc` classes through this plugin, over CSI's gRPC protocol on
a unix socket. Unlike provisioners built on
sig-storage-lib-external-provisioner, the CSI provisioner leaves a claim
whose dataSourceRef names a kind it does not handle to an external
populator: that is the behaviour volume populators (and hoist) rely on.

CreateVolume makes a directory (mount volumes) or a sparse file of the
requested capacity (block volumes) named after the volume under --root;
the volume id is that name, and the test node agent finds a CSI PV's data
at <root>/<volumeHandle>. With --loop, a block volume's file is attached
to a loop device and <root>/<volumeHandle> is a symbolic link to that
device, so pods see a real block device (the file is <name>.img).
DeleteVolume removes it (and detaches the loop device); so does the
plugin's exit for the loop devices. No node service: the node agent
stands in for kubelet and its CSI calls.

Needs Debian's python3-grpcio and python3-protobuf; the CSI messages are
compiled from csi.proto (the version the provisioner was built with) with
protoc at start.

    csi_hostpath.py --endpoint /path/csi.sock --root DIR --proto csi.proto
"""
import argparse
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from concurrent import futures

DRIVER = "hostpath.csi.hoist.test"


def load_csi(proto):
    """csi_pb2, compiled from proto into a temporary directory."""
    out = pathlib.Path(tempfile.mkdtemp(prefix="hoist-csi-"))
    inc = [p for p in ("/usr/include",) if
           os.path.exists(p + "/google/protobuf/descriptor.proto")]
    cmd = ["protoc", "-I", str(pathlib.Path(proto).parent)]
    cmd += ["-I" + p for p in inc]
    cmd += ["--python_out", str(out), pathlib.Path(proto).name]
    subprocess.run(cmd, check=True)
    sys.path.insert(0, str(out))
    import csi_pb2
    return csi_pb2


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--endpoint", required=True, help="unix socket path")
    ap.add_argument("--root", required=True, help="where volumes are made")
    ap.add_argument("--proto", required=True, help="csi.proto")
    ap.add_argument("--name", default=DRIVER)
    ap.add_argument("--loop", action="store_true",
                    help="block volumes on loop devices")
    args = ap.parse_args()

    import grpc
    csi = load_csi(args.proto)
    root = pathlib.Path(args.root)
    root.mkdir(parents=True, exist_ok=True)
    lock = threading.Lock()

    def fail(context, code, message):
        context.abort(code, message)

    # ---- Identity ----

    def get_plugin_info(req, context):
        return csi.GetPluginInfoResponse(name=args.name,
                                         vendor_version="0.1")

    def get_plugin_capabilities(req, context):
        cap = csi.PluginCapability(service=csi.PluginCapability.Service(
            type=csi.PluginCapability.Service.CONTROLLER_SERVICE))
        return csi.GetPluginCapabilitiesResponse(capabilities=[cap])

    def probe(req, context):
        r = csi.ProbeResponse()
        r.ready.value = True
        return r

    # ---- Controller ----

    def controller_get_capabilities(req, context):
        rpc = csi.ControllerServiceCapability.RPC
        caps = [csi.ControllerServiceCapability(rpc=rpc(type=t)) for t in (
            rpc.CREATE_DELETE_VOLUME,)]
        return csi.ControllerGetCapabilitiesResponse(capabilities=caps)

    def create_volume(req, context):
        name = req.name
        if not name or "/" in name or name.startswith("."):
            fail(context, grpc.StatusCode.INVALID_ARGUMENT,
                 "bad volume name %r" % name)
        if req.HasField("volume_content_source"):
            fail(context, grpc.StatusCode.INVALID_ARGUMENT,
                 "volume content sources are not supported")
        caps = list(req.volume_capabilities)
        if not caps:
            fail(context, grpc.StatusCode.INVALID_ARGUMENT,
                 "no volume capabilities")
        block = any(c.HasField("block") for c in caps)
        size = req.capacity_range.required_bytes or \
            req.capacity_range.limit_bytes or 1 << 30
        path = root / name
        with lock:
            if os.path.lexists(path):
                if path.is_dir() == block:
                    fail(context, grpc.StatusCode.ALREADY_EXISTS,
                         "volume %s exists with another access type" % name)
            elif block:
                img = root / (name + ".img") if args.loop else path
                with open(img, "wb") as f:
                    f.truncate(size)
                if args.loop:
                    p = subprocess.run(["losetup", "--find", "--show",
                                        str(img)], capture_output=True,
                                       text=True)
                    if p.returncode != 0:
                        img.unlink()
                        fail(context, grpc.StatusCode.RESOURCE_EXHAUSTED,
                             "losetup: " + p.stderr.strip())
                    os.symlink(p.stdout.strip(), path)
            else:
                path.mkdir(mode=0o777)
                os.chmod(path, 0o777)
        return csi.CreateVolumeResponse(volume=csi.Volume(
            volume_id=name, capacity_bytes=size))

    def delete_volume(req, context):
        vid = req.volume_id
        if not vid or "/" in vid or vid.startswith("."):
            fail(context, grpc.StatusCode.INVALID_ARGUMENT,
                 "bad volume id %r" % vid)
        with lock:
            remove(root / vid)
        return csi.DeleteVolumeResponse()

    def validate_volume_capabilities(req, context):
        if not (root / req.volume_id).exists():
            fail(context, grpc.StatusCode.NOT_FOUND, "no such volume")
        r = csi.ValidateVolumeCapabilitiesResponse()
        r.confirmed.volume_capabilities.extend(req.volume_capabilities)
        return r

    def handler(service, methods):
        return grpc.method_handlers_generic_handler("csi.v1." + service, {
            name: grpc.unary_unary_rpc_method_handler(
                fn, request_deserializer=req.FromString,
                response_serializer=lambda m: m.SerializeToString())
            for name, (fn, req) in methods.items()})

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    server.add_generic_rpc_handlers([
        handler("Identity", {
            "GetPluginInfo": (get_plugin_info, csi.GetPluginInfoRequest),
            "GetPluginCapabilities": (get_plugin_capabilities,
                                      csi.GetPluginCapabilitiesRequest),
            "Probe": (probe, csi.ProbeRequest)}),
        handler("Controller", {
            "ControllerGetCapabilities": (
                controller_get_capabilities,
                csi.ControllerGetCapabilitiesRequest),
            "CreateVolume": (create_volume, csi.CreateVolumeRequest),
            "DeleteVolume": (delete_volume, csi.DeleteVolumeRequest),
            "ValidateVolumeCapabilities": (
                validate_volume_capabilities,
                csi.ValidateVolumeCapabilitiesRequest)}),
    ])
    if os.path.exists(args.endpoint):
        os.unlink(args.endpoint)
    server.add_insecure_port("unix://" + args.endpoint)
    server.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print("csi_hostpath: serving %s on %s" % (args.name, args.endpoint),
          file=sys.stderr, flush=True)
    stop.wait()
    server.stop(1)
    with lock:  # loop devices do not outlive the plugin
        for p in root.iterdir():
            if p.is_symlink():
                detach(p)


def detach(link):
    dev = os.readlink(link)
    subprocess.run(["losetup", "-d", dev], capture_output=True)
    link.unlink()


def remove(path):
    if path.is_symlink():  # a block volume on a loop device
        detach(path)
        img = path.with_name(path.name + ".img")
        if img.exists():
            img.unlink()
    elif path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


if __name__ == "__main__":
    main()
