"""Running a command inside a User-Mode Linux guest kernel."""

from lab.guest.uml import BootedGuest, GuestKernel, booted, find_guest_kernel, run_in_guest

__all__ = ["BootedGuest", "GuestKernel", "booted", "find_guest_kernel", "run_in_guest"]
