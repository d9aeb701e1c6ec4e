//! GPIO (PL061-style): UART pin muxing and the status LED on PF0.

use core::convert::Infallible;

use crate::mmio::Reg;

const GPIOA: usize = 0x4000_4000;
const GPIOD: usize = 0x4000_7000;
const GPIOF: usize = 0x4002_5000;
const DIR: usize = 0x400;
const AFSEL: usize = 0x420;
const DEN: usize = 0x51C;

/// Hands PA0/PA1 (U0RX/U0TX) and PD2/PD3 (U1RX/U1TX) to the UARTs.
pub(crate) fn mux_uart_pins() {
    for (port, pins) in [(GPIOA, 0b0011), (GPIOD, 0b1100)] {
        // SAFETY: AFSEL and DEN of GPIO ports A and D; only this module uses them.
        let (afsel, den) = unsafe { (Reg::at(port + AFSEL), Reg::at(port + DEN)) };
        afsel.modify(|v| v | pins);
        den.modify(|v| v | pins);
    }
}

/// The EVB's green "STATUS" LED on PF0, active high.
pub(crate) struct StatusLed {
    /// DATA masked to bit 0: writes touch PF0 only.
    data: Reg,
}

impl StatusLed {
    /// Makes PF0 a digital output, LED off.
    pub(crate) fn new() -> Self {
        // SAFETY: GPIOF DIR, DEN and DATA (address bits 9:2 = mask 0x01);
        // PF0 belongs to this driver alone.
        let (dir, den, data) = unsafe {
            (
                Reg::at(GPIOF + DIR),
                Reg::at(GPIOF + DEN),
                Reg::at(GPIOF + (0x01 << 2)),
            )
        };
        data.write(0);
        dir.modify(|v| v | 1);
        den.modify(|v| v | 1);
        StatusLed { data }
    }
}

impl embedded_hal::digital::ErrorType for StatusLed {
    type Error = Infallible;
}

impl embedded_hal::digital::OutputPin for StatusLed {
    fn set_low(&mut self) -> Result<(), Infallible> {
        self.data.write(0);
        Ok(())
    }

    fn set_high(&mut self) -> Result<(), Infallible> {
        self.data.write(1);
        Ok(())
    }
}
