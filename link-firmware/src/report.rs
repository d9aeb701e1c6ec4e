//! What the bridge tells about itself: its counters and its LED view.

/// What the bridge counted since it started. Every counter wraps.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Counters {
    /// Valid frames forwarded from side A to side B.
    pub forwarded_a_to_b: u32,
    /// Valid frames forwarded from side B to side A.
    pub forwarded_b_to_a: u32,
    /// Frames rejected by the deframer (bad COBS, bad CRC, over-full,
    /// unknown version, too short). Bodies are never decoded, so a frame of
    /// an unknown kind or with a body the bridge cannot read is forwarded.
    pub corrupt: u32,
    /// Valid frames of a cluster other than the adopted one.
    pub foreign_cluster: u32,
    /// Valid frames dropped because the other side's transmit queue was full.
    pub tx_overflow: u32,
    /// `BridgeStatus` frames queued (periodic and on request).
    pub status_sent: u32,
    /// `BridgeStatus` frames not queued because the transmit queue was full.
    pub status_skipped: u32,
    /// `BridgeStatusRequest` frames answered.
    pub requests_answered: u32,
    /// Times a cluster id was adopted (the first, and each re-adoption).
    pub adoptions: u32,
    /// Errors reported by the serial ports (framing, overrun…); the bytes
    /// that did arrive are still used, and the CRC catches any damage.
    pub port_errors: u32,
    /// Errors reported by the LED pin.
    pub led_errors: u32,
}

impl Counters {
    /// Frames the bridge received and did not deliver: the
    /// `BridgeStatus::frames_dropped` it reports.
    pub fn frames_dropped(&self) -> u32 {
        self.corrupt
            .wrapping_add(self.foreign_cluster)
            .wrapping_add(self.tx_overflow)
    }
}

/// What the status LED shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum LedView {
    /// Both sides heard within [`BridgeConfig::recent_ms`]: LED on, steady.
    BothHeard,
    /// Exactly one side heard recently: LED blinks.
    OneSilent,
    /// Neither side heard recently: LED off.
    BothSilent,
}
