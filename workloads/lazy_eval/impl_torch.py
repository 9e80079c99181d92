"""PyTorch is eager; on a GPU its kernels run asynchronously until a synchronize."""


def execution(backend) -> str:
    return "eager" if backend.device == "cpu" else "async"


def forcer(backend):
    return backend.sync  # torch.cuda.synchronize / torch.mps.synchronize; a no-op on the CPU
