"""The launcher as committed before the aligned-body kernel loaded x before its wait: a peer for A/B."""
from oldtri import Triton


class Old(Triton):
    name = "triton-old"
