//! System control: peripheral clock gates, the reset cause, and the clock rate.

use crate::mmio::Reg;

/// The system clock QEMU models for the reset value of RCC: its 200 MHz
/// "PLL" divided by SYSDIV + 1 = 16, i.e. 12.5 MHz. (Real silicon at reset
/// runs from the main oscillator instead; a board build for silicon would
/// set RCC explicitly.) Measured in QEMU: status frames 500 ms apart by the
/// host's clock (see the README).
pub(crate) const SYSCLK_HZ: u32 = 12_500_000;

const SYSCTL: usize = 0x400F_E000;

const RESC: Reg = sysctl_reg(0x05C);
const RCGC0: Reg = sysctl_reg(0x100);
const RCGC1: Reg = sysctl_reg(0x104);
const RCGC2: Reg = sysctl_reg(0x108);

const fn sysctl_reg(offset: usize) -> Reg {
    // SAFETY: only called above, with offsets of SYSCTL registers this module owns.
    unsafe { Reg::at(SYSCTL + offset) }
}

const RCGC0_WDT: u32 = 1 << 3;
const RCGC1_UART0: u32 = 1 << 0;
const RCGC1_UART1: u32 = 1 << 1;
const RCGC2_GPIOA: u32 = 1 << 0;
const RCGC2_GPIOD: u32 = 1 << 3;
const RCGC2_GPIOF: u32 = 1 << 5;

/// Why the chip last reset, from RESC.
#[derive(Clone, Copy, defmt::Format)]
pub(crate) struct ResetCause {
    /// Power-on reset.
    pub(crate) power_on: bool,
    /// External reset pin.
    pub(crate) external: bool,
    /// The watchdog fired: the main loop had stopped.
    pub(crate) watchdog: bool,
    /// Software reset (SYSRESETREQ).
    pub(crate) software: bool,
}

/// Reads and clears the reset cause (RESC is sticky across resets).
pub(crate) fn take_reset_cause() -> ResetCause {
    let resc = RESC.read();
    RESC.write(0);
    ResetCause {
        external: resc & (1 << 0) != 0,
        power_on: resc & (1 << 1) != 0,
        watchdog: resc & (1 << 3) != 0,
        software: resc & (1 << 4) != 0,
    }
}

/// Ungates the clocks of every peripheral the bridge uses. QEMU does not
/// model the gates; silicon needs them, and a few cycles before first use.
pub(crate) fn enable_clocks() {
    RCGC0.modify(|v| v | RCGC0_WDT);
    RCGC1.modify(|v| v | RCGC1_UART0 | RCGC1_UART1);
    RCGC2.modify(|v| v | RCGC2_GPIOA | RCGC2_GPIOD | RCGC2_GPIOF);
    cortex_m::asm::delay(16);
}
