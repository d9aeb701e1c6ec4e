//! twinbeat heartbeat bridge on the LM3S6965 evaluation board, the QEMU
//! `lm3s6965evb` machine: UART0 ⇄ host A, UART1 ⇄ host B, status LED on PF0,
//! defmt logs over semihosting.
#![no_std]
#![no_main]

mod gpio;
mod mmio;
mod pl011;
mod sysctl;
mod systick;
mod watchdog;

use cortex_m::peripheral::NVIC;
use cortex_m_rt::{entry, exception};
use defmt_semihosting as _;
use embedded_io::ReadReady;
use twinbeat_link::{Bridge, BridgeConfig, Clock, Counters};

use crate::gpio::StatusLed;
use crate::pl011::{Pl011, UART0, UART1};
use crate::sysctl::SYSCLK_HZ;
use crate::systick::Millis;
use crate::watchdog::Wdt;

/// The bridge on this board.
type BoardBridge = Bridge<Pl011, Pl011, Millis, StatusLed, Wdt>;

/// Line rate of both UARTs (QEMU ignores it; silicon and the hosts must agree).
const BAUD: u32 = 115_200;
/// The chip resets this long after the main loop last completed a step.
const WATCHDOG_TIMEOUT_MS: u32 = 1_000;
/// Counters are logged at most this often, and only when they changed.
const LOG_EVERY_MS: u32 = 1_000;

/// The two UART interrupt lines the main loop sleeps on.
#[derive(Clone, Copy)]
enum Irq {
    Uart0 = 5,
    Uart1 = 6,
}

// SAFETY: 5 and 6 are the LM3S6965's UART0 and UART1 interrupt numbers,
// both within the 32 vectors cortex-m-rt provides.
unsafe impl cortex_m::interrupt::InterruptNumber for Irq {
    fn number(self) -> u16 {
        self as u16
    }
}

defmt::timestamp!("{=u32:ms}", systick::Millis.now_ms());

#[entry]
fn main() -> ! {
    let cause = sysctl::take_reset_cause();
    sysctl::enable_clocks();
    gpio::mux_uart_pins();
    let Some(core) = cortex_m::Peripherals::take() else {
        panic!("core peripherals taken twice");
    };
    // SAFETY: each UART gets exactly one driver, here.
    let (uart0, uart1) = unsafe {
        (
            Pl011::new(UART0, SYSCLK_HZ, BAUD),
            Pl011::new(UART1, SYSCLK_HZ, BAUD),
        )
    };
    let clock = systick::start(core.SYST, SYSCLK_HZ);
    let led = StatusLed::new();
    let wdt = watchdog::start(SYSCLK_HZ, WATCHDOG_TIMEOUT_MS);

    defmt::info!(
        "twinbeat-link {=str} on lm3s6965evb, reset cause {}",
        env!("CARGO_PKG_VERSION"),
        cause
    );
    let config = BridgeConfig::DEFAULT;
    let bridge = match Bridge::new(uart0, uart1, clock, led, wdt, config) {
        Ok(bridge) => bridge,
        Err(error) => panic!("bad bridge config: {}", error),
    };
    // In .bss rather than on the stack, so the size report's static RAM
    // figure includes the bridge's buffers.
    let Some(bridge) = cortex_m::singleton!(: BoardBridge = bridge) else {
        panic!("bridge created twice");
    };
    // SAFETY: the handler (DefaultHandler below) only masks the UART's
    // receive interrupt; no critical section relies on them being off.
    unsafe {
        NVIC::unmask(Irq::Uart0);
        NVIC::unmask(Irq::Uart1);
    }

    let mut logged = Counters::default();
    let mut last_log = clock.now_ms();
    loop {
        bridge.poll();

        let now = clock.now_ms();
        if now.wrapping_sub(last_log) >= LOG_EVERY_MS {
            last_log = now;
            log_changes(bridge, &mut logged);
        }
        #[cfg(feature = "watchdog-demo")]
        if now >= 2_000 {
            defmt::warn!("watchdog-demo: main loop stops; expect a watchdog reset");
            loop {
                cortex_m::asm::wfi();
            }
        }

        sleep_until_input(bridge);
    }
}

/// Sleeps until a UART has received something or the next SysTick (≤ 1 ms).
/// Checked and slept with interrupts masked: a byte arriving between the
/// check and `wfi` leaves its interrupt pending, which ends `wfi` at once.
fn sleep_until_input(bridge: &mut BoardBridge) {
    bridge.port_a_mut().listen_rx();
    bridge.port_b_mut().listen_rx();
    cortex_m::interrupt::free(|_| {
        let ready = matches!(bridge.port_a_mut().read_ready(), Ok(true))
            || matches!(bridge.port_b_mut().read_ready(), Ok(true));
        if !ready {
            cortex_m::asm::wfi();
        }
    });
}

fn log_changes(bridge: &BoardBridge, logged: &mut Counters) {
    let now = *bridge.counters();
    if now == *logged {
        return;
    }
    *logged = now;
    let status = bridge.status(twinbeat_link::protocol::Side::A);
    defmt::info!(
        "view {} cluster {} since A {} B {} | fwd A>B {=u32} B>A {=u32} | dropped {=u32} (corrupt {=u32} foreign {=u32} overflow {=u32}) | status {=u32} port errors {=u32}",
        bridge.view(),
        bridge.cluster(),
        status.since_a_ms,
        status.since_b_ms,
        now.forwarded_a_to_b,
        now.forwarded_b_to_a,
        now.frames_dropped(),
        now.corrupt,
        now.foreign_cluster,
        now.tx_overflow,
        now.status_sent,
        now.port_errors,
    );
}

/// Every interrupt lands here (no device crate: cortex-m-rt's default vector
/// table points all 32 lines at this handler). Only the UARTs are unmasked in
/// the NVIC; their handler just masks the receive interrupt, since the main
/// loop, woken by it, does the reading.
#[exception]
unsafe fn DefaultHandler(irqn: i16) {
    let base = match irqn {
        5 => UART0,
        6 => UART1,
        _ => return,
    };
    // SAFETY: `base` is UART0 or UART1, as `mask_rx` requires.
    unsafe { Pl011::mask_rx(base) };
}

#[exception]
unsafe fn HardFault(frame: &cortex_m_rt::ExceptionFrame) -> ! {
    defmt::error!("hard fault at pc {=u32:#x}", frame.pc());
    semihosting::process::exit(2)
}

/// Logs the panic and ends the QEMU run with a failure code (semihosting
/// exit), so a test sees the crash instead of a silent hang.
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    match info.location() {
        Some(at) => defmt::error!("panic at {=str}:{=u32}", at.file(), at.line()),
        None => defmt::error!("panic"),
    }
    semihosting::process::exit(1)
}
