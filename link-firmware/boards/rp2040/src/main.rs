//! twinbeat heartbeat bridge on an RP2040 (Raspberry Pi Pico pinout):
//! UART0 on GP0 (TX) / GP1 (RX) ⇄ host A, UART1 on GP4 (TX) / GP5 (RX) ⇄
//! host B, status LED on GP25, hardware watchdog. No logging: a deployed
//! bridge has no debugger attached; the LED and the hosts' view of its
//! `BridgeStatus` frames are its outputs.
#![no_std]
#![no_main]

use embedded_io::{ErrorType, Read, ReadReady, Write, WriteReady};
use fugit::{ExtU32, RateExtU32};
use rp2040_hal::clocks::{init_clocks_and_plls, Clock as _};
use rp2040_hal::gpio::{bank0, FunctionSioOutput, FunctionUart, Pin, Pins, PullDown, PullNone};
use rp2040_hal::uart::{
    DataBits, Enabled, StopBits, UartConfig, UartDevice, UartPeripheral, ValidUartPinout,
};
use rp2040_hal::{pac, Sio, Timer, Watchdog};
use twinbeat_link::{Bridge, BridgeConfig, Clock};

/// The second-stage bootloader for the Pico's W25Q080-compatible flash.
// A placed static is all the "unsafe" there is here: memory.x reserves
// exactly these 256 bytes at the start of flash for it.
#[allow(unsafe_code)]
#[link_section = ".boot2"]
#[used]
pub static BOOT2: [u8; 256] = rp2040_boot2::BOOT_LOADER_W25Q080;

/// The Pico's crystal.
const XOSC_HZ: u32 = 12_000_000;
/// Line rate of both UARTs; the hosts' serial ports must match.
const BAUD: u32 = 115_200;
/// The chip resets this long after the main loop last completed a step.
const WATCHDOG_TIMEOUT_MS: u32 = 1_000;

/// UART0's pins: GP0 = TX, GP1 = RX.
type Uart0Pins = (
    Pin<bank0::Gpio0, FunctionUart, PullNone>,
    Pin<bank0::Gpio1, FunctionUart, PullNone>,
);
/// UART1's pins: GP4 = TX, GP5 = RX.
type Uart1Pins = (
    Pin<bank0::Gpio4, FunctionUart, PullNone>,
    Pin<bank0::Gpio5, FunctionUart, PullNone>,
);
/// The Pico's on-board LED.
type LedPin = Pin<bank0::Gpio25, FunctionSioOutput, PullDown>;
/// The bridge on this board.
type BoardBridge =
    Bridge<Port<pac::UART0, Uart0Pins>, Port<pac::UART1, Uart1Pins>, Millis, LedPin, Dog>;

/// Milliseconds from the RP2040's 1 MHz, 64-bit timer.
#[derive(Clone, Copy)]
struct Millis(Timer);

impl Clock for Millis {
    fn now_ms(&self) -> u32 {
        // Truncation is the point: the bridge expects a wrapping u32 clock.
        (self.0.get_counter().ticks() / 1_000) as u32
    }
}

/// The hardware watchdog, fed by the bridge's main-loop step.
struct Dog(Watchdog);

impl twinbeat_link::Watchdog for Dog {
    fn feed(&mut self) {
        self.0.feed();
    }
}

/// A UART as the bridge's port. rp2040-hal's UART already speaks
/// embedded-io `Read`/`Write`; this adds the readiness checks the bridge
/// uses so that it never blocks.
struct Port<D: UartDevice, P: ValidUartPinout<D>>(UartPeripheral<Enabled, D, P>);

impl<D: UartDevice, P: ValidUartPinout<D>> ErrorType for Port<D, P> {
    type Error = <UartPeripheral<Enabled, D, P> as ErrorType>::Error;
}

impl<D: UartDevice, P: ValidUartPinout<D>> Read for Port<D, P> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        self.0.read(buf)
    }
}

impl<D: UartDevice, P: ValidUartPinout<D>> ReadReady for Port<D, P> {
    fn read_ready(&mut self) -> Result<bool, Self::Error> {
        Ok(self.0.uart_is_readable())
    }
}

impl<D: UartDevice, P: ValidUartPinout<D>> Write for Port<D, P> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> Result<(), Self::Error> {
        self.0.flush()
    }
}

impl<D: UartDevice, P: ValidUartPinout<D>> WriteReady for Port<D, P> {
    fn write_ready(&mut self) -> Result<bool, Self::Error> {
        Ok(self.0.uart_is_writable())
    }
}

#[rp2040_hal::entry]
fn main() -> ! {
    let Some(mut pac) = pac::Peripherals::take() else {
        panic!("peripherals taken twice");
    };
    let mut watchdog = Watchdog::new(pac.WATCHDOG);
    let Ok(clocks) = init_clocks_and_plls(
        XOSC_HZ,
        pac.XOSC,
        pac.CLOCKS,
        pac.PLL_SYS,
        pac.PLL_USB,
        &mut pac.RESETS,
        &mut watchdog,
    ) else {
        panic!("clock setup failed");
    };
    let sio = Sio::new(pac.SIO);
    let pins = Pins::new(
        pac.IO_BANK0,
        pac.PADS_BANK0,
        sio.gpio_bank0,
        &mut pac.RESETS,
    );
    let timer = Timer::new(pac.TIMER, &mut pac.RESETS, &clocks);

    let config = || UartConfig::new(BAUD.Hz(), DataBits::Eight, None, StopBits::One);
    let uart0_pins = (
        pins.gpio0.reconfigure::<FunctionUart, PullNone>(),
        pins.gpio1.reconfigure::<FunctionUart, PullNone>(),
    );
    let uart1_pins = (
        pins.gpio4.reconfigure::<FunctionUart, PullNone>(),
        pins.gpio5.reconfigure::<FunctionUart, PullNone>(),
    );
    let Ok(uart0) = UartPeripheral::new(pac.UART0, uart0_pins, &mut pac.RESETS)
        .enable(config(), clocks.peripheral_clock.freq())
    else {
        panic!("UART0 setup failed");
    };
    let Ok(uart1) = UartPeripheral::new(pac.UART1, uart1_pins, &mut pac.RESETS)
        .enable(config(), clocks.peripheral_clock.freq())
    else {
        panic!("UART1 setup failed");
    };
    let led = pins.gpio25.into_push_pull_output();

    // Keep counting while a debugger halts the core, like on silicon without one.
    watchdog.pause_on_debug(false);
    watchdog.start(WATCHDOG_TIMEOUT_MS.millis());

    let Ok(bridge) = Bridge::new(
        Port(uart0),
        Port(uart1),
        Millis(timer),
        led,
        Dog(watchdog),
        BridgeConfig::DEFAULT,
    ) else {
        panic!("bad bridge config");
    };
    // In .bss rather than on the stack, so the size report's static RAM
    // figure includes the bridge's buffers.
    let Some(bridge) = cortex_m::singleton!(: BoardBridge = bridge) else {
        panic!("bridge created twice");
    };
    loop {
        bridge.poll();
    }
}

/// Stops here and lets the watchdog reset the board (within
/// `WATCHDOG_TIMEOUT_MS` once it runs; before that, a debugger sees the halt).
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    loop {
        cortex_m::asm::wfi();
    }
}
