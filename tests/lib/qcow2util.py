"""Reading and patching qcow2 metadata, for tests that break images on
purpose and for the fuzz corpus generator. Layout: QEMU's
docs/interop/qcow2.txt (big-endian header, L1 table of L2 table offsets,
L2 entries of 8 bytes, or 16 with extended L2 entries)."""
import struct

OFFSET_MASK = 0x00fffffffffffe00
COMPRESSED = 1 << 62
ZERO = 1

# Header field offsets.
VERSION = 4
BACKING_OFFSET = 8
CLUSTER_BITS = 20
SIZE = 24
CRYPT_METHOD = 32
L1_SIZE = 36
L1_OFFSET = 40
INCOMPAT = 72
HEADER_LENGTH = 100
COMPRESSION_TYPE = 104


def read_at(path, offset, n):
    with open(path, "rb") as f:
        f.seek(offset)
        return f.read(n)


def write_at(path, offset, data):
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(data)


def get_u32(path, offset):
    return struct.unpack(">I", read_at(path, offset, 4))[0]


def get_u64(path, offset):
    return struct.unpack(">Q", read_at(path, offset, 8))[0]


def set_u32(path, offset, value):
    write_at(path, offset, struct.pack(">I", value))


def set_u64(path, offset, value):
    write_at(path, offset, struct.pack(">Q", value))


class Qcow2:
    """The geometry of an image, and where its table entries live."""

    def __init__(self, path):
        self.path = path
        self.version = get_u32(path, VERSION)
        self.cluster_bits = get_u32(path, CLUSTER_BITS)
        self.cluster_size = 1 << self.cluster_bits
        self.size = get_u64(path, SIZE)
        self.l1_size = get_u32(path, L1_SIZE)
        self.l1_offset = get_u64(path, L1_OFFSET)
        self.incompat = get_u64(path, INCOMPAT) if self.version >= 3 else 0
        self.entry_size = 16 if self.incompat & 16 else 8
        self.l2_entries = self.cluster_size // self.entry_size

    def l1_entry_pos(self, vcluster):
        """File offset of the L1 entry covering virtual cluster vcluster."""
        return self.l1_offset + 8 * (vcluster // self.l2_entries)

    def l2_entry_pos(self, vcluster):
        """File offset of the L2 entry of virtual cluster vcluster (its L2
        table must be allocated)."""
        table = get_u64(self.path, self.l1_entry_pos(vcluster)) & OFFSET_MASK
        assert table, f"no L2 table for cluster {vcluster}"
        return table + self.entry_size * (vcluster % self.l2_entries)

    def l2_entry(self, vcluster):
        return get_u64(self.path, self.l2_entry_pos(vcluster))

    def compressed(self, vcluster):
        """(host offset, size) of a compressed cluster's bytes."""
        e = self.l2_entry(vcluster)
        assert e & COMPRESSED, f"cluster {vcluster} is not compressed"
        shift = 62 - (self.cluster_bits - 8)
        host = e & ((1 << shift) - 1)
        sectors = ((e >> shift) & ((1 << (self.cluster_bits - 8)) - 1)) + 1
        return host, sectors * 512 - (host & 511)

    def set_l2_entry(self, vcluster, value):
        set_u64(self.path, self.l2_entry_pos(vcluster), value)

    def set_l1_entry(self, vcluster, value):
        set_u64(self.path, self.l1_entry_pos(vcluster), value)
