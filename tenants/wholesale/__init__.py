"""The reseller's wholesale pool (SPEC §4b): lots the platform sells it, the credits its
customers receive drawn from them first in, first out, the low-pool alert and forecast."""
