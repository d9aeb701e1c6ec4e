//! Memory-mapped registers. Making a [`Reg`] is the only `unsafe` step in
//! this crate: once an address is vouched for, reads and writes are safe.

/// One 32-bit device register.
#[derive(Clone, Copy)]
pub(crate) struct Reg(*mut u32);

impl Reg {
    /// The register at `addr`.
    ///
    /// # Safety
    /// `addr` must be a 32-bit-aligned LM3S6965 peripheral register (as in
    /// the datasheet) that is valid for volatile reads and writes, and the
    /// caller's driver must be the only code that uses it.
    pub(crate) const unsafe fn at(addr: usize) -> Self {
        Reg(addr as *mut u32)
    }

    /// Volatile read.
    pub(crate) fn read(self) -> u32 {
        // SAFETY: `at`'s contract: a valid, aligned device register.
        unsafe { core::ptr::read_volatile(self.0) }
    }

    /// Volatile write.
    pub(crate) fn write(self, value: u32) {
        // SAFETY: `at`'s contract: a valid, aligned device register.
        unsafe { core::ptr::write_volatile(self.0, value) }
    }

    /// Read, change, write back (not atomic: callers own the register).
    pub(crate) fn modify(self, f: impl FnOnce(u32) -> u32) {
        self.write(f(self.read()));
    }
}
