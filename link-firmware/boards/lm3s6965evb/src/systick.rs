//! A millisecond clock from SysTick: the exception bumps a counter.

use core::sync::atomic::{AtomicU32, Ordering};

use cortex_m::peripheral::{syst::SystClkSource, SYST};
use cortex_m_rt::exception;
use twinbeat_link::Clock;

/// Milliseconds since `start`. An atomic, not a critical section: Cortex-M3
/// has single-instruction loads and LDREX/STREX increments, so the main loop
/// never sees a torn value and never masks the tick.
static MILLIS: AtomicU32 = AtomicU32::new(0);

#[exception]
fn SysTick() {
    MILLIS.fetch_add(1, Ordering::Relaxed);
}

/// The clock handed to the bridge.
#[derive(Clone, Copy)]
pub(crate) struct Millis;

impl Clock for Millis {
    fn now_ms(&self) -> u32 {
        MILLIS.load(Ordering::Relaxed)
    }
}

/// Starts a 1 kHz tick from the core clock. The tick also bounds how long
/// the main loop sleeps in `wfi` when nothing else wakes it.
pub(crate) fn start(mut syst: SYST, sysclk_hz: u32) -> Millis {
    syst.set_clock_source(SystClkSource::Core);
    syst.set_reload(sysclk_hz / 1_000 - 1);
    syst.clear_current();
    syst.enable_interrupt();
    syst.enable_counter();
    Millis
}
