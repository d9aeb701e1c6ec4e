//! ARM PL011 UART driver (the LM3S6965's UART0 and UART1) by register access,
//! exposing the embedded-io traits the bridge is written against.

use embedded_io::{ErrorKind, ErrorType, Read, ReadReady, Write, WriteReady};

use crate::mmio::Reg;

/// UART0: wired to host A.
pub(crate) const UART0: usize = 0x4000_C000;
/// UART1: wired to host B.
pub(crate) const UART1: usize = 0x4000_D000;

// Register offsets.
const DR: usize = 0x000;
const FR: usize = 0x018;
const IBRD: usize = 0x024;
const FBRD: usize = 0x028;
const LCRH: usize = 0x02C;
const CR: usize = 0x030;
const IFLS: usize = 0x034;
const IMSC: usize = 0x038;
const ICR: usize = 0x044;

// DR error bits that come with each received byte.
const DR_FE: u32 = 1 << 8;
const DR_PE: u32 = 1 << 9;
const DR_BE: u32 = 1 << 10;
const DR_OE: u32 = 1 << 11;
// FR bits.
const FR_BUSY: u32 = 1 << 3;
const FR_RXFE: u32 = 1 << 4;
const FR_TXFF: u32 = 1 << 5;
// LCRH: 8 data bits, FIFOs on (no parity, one stop bit).
const LCRH_8N1_FIFO: u32 = (0b11 << 5) | (1 << 4);
// CR: UART, transmitter and receiver enabled.
const CR_ENABLE: u32 = (1 << 0) | (1 << 8) | (1 << 9);
// Interrupts: receive (FIFO at its trigger level) and receive timeout
// (bytes waiting below the trigger level for 32 bit times).
const INT_RX: u32 = (1 << 4) | (1 << 6);

/// A receive error the PL011 flagged on a byte (the byte is discarded).
#[derive(Debug, Clone, Copy, PartialEq, Eq, defmt::Format)]
pub(crate) enum UartError {
    /// A byte arrived while the receive FIFO was full; bytes were lost.
    Overrun,
    /// The line was held low longer than a character (cable unplugged?).
    Break,
    /// Parity mismatch (not used at 8N1, reported if the line disagrees).
    Parity,
    /// No valid stop bit: wrong baud rate or noise.
    Framing,
}

impl core::fmt::Display for UartError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            UartError::Overrun => "receive overrun",
            UartError::Break => "break condition",
            UartError::Parity => "parity error",
            UartError::Framing => "framing error",
        })
    }
}

impl core::error::Error for UartError {}

impl embedded_io::Error for UartError {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Other
    }
}

/// One PL011, initialised to 8N1 with FIFOs.
pub(crate) struct Pl011 {
    base: usize,
    /// An error seen after some bytes were returned; reported by the next read.
    pending: Option<UartError>,
}

impl Pl011 {
    /// Sets up the UART at `base` for `baud` and enables it.
    ///
    /// # Safety
    /// `base` must be [`UART0`] or [`UART1`], and only one `Pl011` may exist per UART.
    pub(crate) unsafe fn new(base: usize, sysclk_hz: u32, baud: u32) -> Self {
        let uart = Pl011 {
            base,
            pending: None,
        };
        uart.reg(CR).write(0);
        // Divisor = sysclk / (16 × baud), as 16.6 fixed point rounded to nearest.
        let div_x64 = (sysclk_hz * 4 + baud / 2) / baud;
        uart.reg(IBRD).write(div_x64 >> 6);
        uart.reg(FBRD).write(div_x64 & 0x3F);
        // LCRH latches the divisor: written after IBRD/FBRD.
        uart.reg(LCRH).write(LCRH_8N1_FIFO);
        // RX trigger at 1/8 full so a short frame wakes the loop early.
        uart.reg(IFLS).write(0);
        uart.reg(ICR).write(0x7FF);
        uart.reg(CR).write(CR_ENABLE);
        uart
    }

    fn reg(&self, offset: usize) -> Reg {
        // SAFETY: `new`'s contract: `base` is a PL011 owned by this driver,
        // and every offset used here is one of its registers.
        unsafe { Reg::at(self.base + offset) }
    }

    /// Lets received bytes raise the UART's interrupt (which wakes `wfi`).
    pub(crate) fn listen_rx(&self) {
        self.reg(IMSC).modify(|v| v | INT_RX);
    }

    /// Masks the receive interrupts again; the interrupt handler calls this
    /// so the still-pending bytes do not re-trigger it until the main loop
    /// has read them and listens again.
    ///
    /// # Safety
    /// Only for the interrupt handler: it touches IMSC behind the owner's back
    /// (a single write, harmless to the main loop, which re-enables it).
    pub(crate) unsafe fn mask_rx(base: usize) {
        // SAFETY: IMSC of a PL011 at `base` (the caller passes UART0 or UART1).
        unsafe { Reg::at(base + IMSC) }.modify(|v| v & !INT_RX);
    }

    fn rx_empty(&self) -> bool {
        self.reg(FR).read() & FR_RXFE != 0
    }

    fn tx_full(&self) -> bool {
        self.reg(FR).read() & FR_TXFF != 0
    }
}

fn error_of(dr: u32) -> Option<UartError> {
    if dr & DR_OE != 0 {
        Some(UartError::Overrun)
    } else if dr & DR_BE != 0 {
        Some(UartError::Break)
    } else if dr & DR_PE != 0 {
        Some(UartError::Parity)
    } else if dr & DR_FE != 0 {
        Some(UartError::Framing)
    } else {
        None
    }
}

impl ErrorType for Pl011 {
    type Error = UartError;
}

impl ReadReady for Pl011 {
    fn read_ready(&mut self) -> Result<bool, UartError> {
        Ok(self.pending.is_some() || !self.rx_empty())
    }
}

impl Read for Pl011 {
    /// Blocks for the first byte only, then takes what the FIFO holds.
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, UartError> {
        if let Some(error) = self.pending.take() {
            return Err(error);
        }
        if buf.is_empty() {
            return Ok(0);
        }
        while self.rx_empty() {}
        let mut n = 0;
        while n < buf.len() && !self.rx_empty() {
            let dr = self.reg(DR).read();
            if let Some(error) = error_of(dr) {
                // The flagged byte is dropped; the deframer's CRC catches the gap.
                if n == 0 {
                    return Err(error);
                }
                self.pending = Some(error);
                break;
            }
            buf[n] = (dr & 0xFF) as u8;
            n += 1;
        }
        Ok(n)
    }
}

impl WriteReady for Pl011 {
    fn write_ready(&mut self) -> Result<bool, UartError> {
        Ok(!self.tx_full())
    }
}

impl Write for Pl011 {
    /// Blocks for room for the first byte only, then fills the FIFO.
    fn write(&mut self, buf: &[u8]) -> Result<usize, UartError> {
        let mut n = 0;
        for &byte in buf {
            if self.tx_full() {
                if n > 0 {
                    break;
                }
                while self.tx_full() {}
            }
            self.reg(DR).write(u32::from(byte));
            n += 1;
        }
        Ok(n)
    }

    fn flush(&mut self) -> Result<(), UartError> {
        while self.reg(FR).read() & FR_BUSY != 0 {}
        Ok(())
    }
}
