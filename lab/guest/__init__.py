"""Running a command inside a User-Mode Linux guest kernel."""

from lab.guest.uml import GuestKernel, find_guest_kernel, run_in_guest

__all__ = ["GuestKernel", "find_guest_kernel", "run_in_guest"]
