//! Bridge tuning: status cadence, what "heard recently" means, LED blink rate.

use twinbeat_protocol::BRIDGE_STATUS_PERIOD_MS;

/// How the bridge reports and displays what it hears. All durations in ms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct BridgeConfig {
    /// Period of the unsolicited `BridgeStatus` sent on both sides (default: the
    /// protocol's [`BRIDGE_STATUS_PERIOD_MS`], which the hosts count on).
    pub status_interval_ms: u32,
    /// A side counts as "heard recently" (for the LED) if a valid frame came
    /// from it within this window. 3 s is three default serial ping intervals,
    /// so one lost ping does not make the LED flicker.
    pub recent_ms: u32,
    /// Half the blink period of the LED when exactly one side is silent.
    pub blink_half_period_ms: u32,
    /// Once no frame of the adopted cluster has come from either side for this
    /// long, the next valid frame of any cluster is adopted. Without it an
    /// operator who renames the cluster would have to power-cycle the bridge,
    /// and until then the bridge would cut the serial path.
    pub readopt_after_ms: u32,
}

impl BridgeConfig {
    /// The defaults described on each field.
    pub const DEFAULT: BridgeConfig = BridgeConfig {
        status_interval_ms: BRIDGE_STATUS_PERIOD_MS,
        recent_ms: 3_000,
        blink_half_period_ms: 250,
        readopt_after_ms: 10_000,
    };

    /// Checks that every duration is usable (non-zero).
    pub const fn validate(&self) -> Result<(), ConfigError> {
        if self.status_interval_ms == 0 {
            Err(ConfigError::ZeroStatusInterval)
        } else if self.recent_ms == 0 {
            Err(ConfigError::ZeroRecentWindow)
        } else if self.blink_half_period_ms == 0 {
            Err(ConfigError::ZeroBlinkHalfPeriod)
        } else if self.readopt_after_ms == 0 {
            Err(ConfigError::ZeroReadoptAfter)
        } else {
            Ok(())
        }
    }
}

impl Default for BridgeConfig {
    fn default() -> Self {
        BridgeConfig::DEFAULT
    }
}

/// Why a [`BridgeConfig`] was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ConfigError {
    /// `status_interval_ms` is 0: the bridge would flood both lines with status frames.
    ZeroStatusInterval,
    /// `recent_ms` is 0: no side could ever count as heard recently.
    ZeroRecentWindow,
    /// `blink_half_period_ms` is 0: the blink phase would divide by zero.
    ZeroBlinkHalfPeriod,
    /// `readopt_after_ms` is 0: any foreign frame would steal the cluster at once.
    ZeroReadoptAfter,
}

impl core::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            ConfigError::ZeroStatusInterval => "status_interval_ms must be > 0",
            ConfigError::ZeroRecentWindow => "recent_ms must be > 0",
            ConfigError::ZeroBlinkHalfPeriod => "blink_half_period_ms must be > 0",
            ConfigError::ZeroReadoptAfter => "readopt_after_ms must be > 0",
        })
    }
}

impl core::error::Error for ConfigError {}
