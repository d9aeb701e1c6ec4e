//! The LM3S6965 watchdog timer (WDT0). It counts LOAD down to zero twice:
//! the first time it raises its interrupt (left disabled in the NVIC), the
//! second time, if the interrupt was not cleared meanwhile, it resets the
//! chip. Feeding clears the interrupt and reloads the counter.
//!
//! QEMU 7.2 models it ("luminary-watchdog", a CMSDK APB watchdog), so a hung
//! loop resets the emulated board too; with `-no-reboot` QEMU exits instead.

use crate::mmio::Reg;

const WDT0: usize = 0x4000_0000;
const LOAD: Reg = wdt_reg(0x000);
const CTL: Reg = wdt_reg(0x008);
const ICR: Reg = wdt_reg(0x00C);

const fn wdt_reg(offset: usize) -> Reg {
    // SAFETY: only called above, with offsets of WDT0 registers from the
    // datasheet; only this module uses them.
    unsafe { Reg::at(WDT0 + offset) }
}

const CTL_INTEN: u32 = 1 << 0;
const CTL_RESEN: u32 = 1 << 1;

/// The running watchdog.
pub(crate) struct Wdt;

/// Starts the watchdog so that the chip resets `timeout_ms` after the last
/// feed (two countdowns of half of it). Once started it cannot be stopped.
pub(crate) fn start(sysclk_hz: u32, timeout_ms: u32) -> Wdt {
    LOAD.write(sysclk_hz / 1_000 * (timeout_ms / 2));
    // RESEN before INTEN: INTEN starts the counter, and it must already be armed to reset.
    CTL.write(CTL_RESEN);
    CTL.write(CTL_RESEN | CTL_INTEN);
    Wdt
}

impl twinbeat_link::Watchdog for Wdt {
    /// Clears the pending time-out and reloads the counter.
    fn feed(&mut self) {
        ICR.write(1);
    }
}
