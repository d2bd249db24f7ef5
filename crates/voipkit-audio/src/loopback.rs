//! The in-memory loopback device: what is played on its output is captured
//! on its input in the same device period, at a device format and clock of
//! your choosing (a skewed clock simulates drift; `unplug` simulates a
//! device lost mid-call).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::AudioError;
use crate::device::{Direction, RealtimeHook, rt_enter, rt_exit};
use crate::format::{DeviceFormat, StreamConfig};
use crate::soft::{Pacing, SoftBackend, SoftDevice, soft_device_impls};
use crate::stream::{CaptureCallback, PlayoutCallback, event_bits};

/// Offsets (in device frames) cycled through when `vary_buffer` is set:
/// callbacks of uneven length like real drivers give, averaging zero.
const BUFFER_VARIATION: [isize; 6] = [0, -17, 31, -7, 13, -20];

/// Settings of a [`LoopbackDevice`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LoopbackConfig {
    /// The device's own format; `buffer_frames` is the callback size
    /// (default 10 ms).
    pub format: DeviceFormat,
    /// The device clock's error: 0.01 runs 1 % fast, -0.01 1 % slow
    /// (applies to `Pacing::RealTime` and to the durations `tick` returns).
    pub clock_skew: f64,
    /// Vary callback sizes around `buffer_frames` (by up to ±31 frames).
    pub vary_buffer: bool,
    /// Real device thread, or manual ticks.
    pub pacing: Pacing,
}

impl LoopbackConfig {
    /// A loopback at `format`, no skew, fixed buffers, real-time pacing.
    pub fn new(format: DeviceFormat) -> Self {
        LoopbackConfig {
            format,
            clock_skew: 0.0,
            vary_buffer: false,
            pacing: Pacing::RealTime,
        }
    }
}

/// Pulls the plug on a [`LoopbackDevice`] from any thread: the device
/// reports [`DeviceEvent::DeviceLost`](crate::DeviceEvent::DeviceLost) at its next period and stops.
#[derive(Clone, Debug)]
pub struct UnplugHandle(Arc<AtomicBool>);

impl UnplugHandle {
    /// Unplugs the device.
    pub fn unplug(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

struct LoopbackBackend {
    format: DeviceFormat,
    buffer_frames: usize,
    skew: f64,
    vary: bool,
    turn: usize,
    playout: Option<PlayoutCallback>,
    capture: Option<CaptureCallback>,
    /// One device buffer (the largest), interleaved.
    scratch: Vec<f32>,
    unplugged: Arc<AtomicBool>,
}

impl SoftBackend for LoopbackBackend {
    fn device_format(
        &self,
        _direction: Direction,
        _config: &StreamConfig,
    ) -> Result<DeviceFormat, AudioError> {
        Ok(self.format)
    }

    fn attach_playout(
        &mut self,
        callback: PlayoutCallback,
        _format: DeviceFormat,
    ) -> Result<(), AudioError> {
        self.playout = Some(callback);
        Ok(())
    }

    fn attach_capture(&mut self, callback: CaptureCallback, _format: DeviceFormat) {
        self.capture = Some(callback);
    }

    fn has(&self, direction: Direction) -> bool {
        match direction {
            Direction::Input => self.capture.is_some(),
            Direction::Output => self.playout.is_some(),
        }
    }

    fn period(&mut self, hook: Option<RealtimeHook>) -> Option<Duration> {
        if self.unplugged.load(Ordering::Relaxed) {
            if let Some(p) = &self.playout {
                p.shared().raise(event_bits::DEVICE_LOST);
            }
            if let Some(c) = &self.capture {
                c.shared().raise(event_bits::DEVICE_LOST);
            }
            return None;
        }
        let mut frames = self.buffer_frames;
        if self.vary && frames > 40 {
            let offset = BUFFER_VARIATION
                .get(self.turn % BUFFER_VARIATION.len())
                .copied()
                .unwrap_or(0);
            frames = frames.saturating_add_signed(offset);
            self.turn = self.turn.wrapping_add(1);
        }
        let channels = usize::from(self.format.channels);
        rt_enter(hook);
        if let Some(buf) = self.scratch.get_mut(..frames * channels) {
            match &mut self.playout {
                Some(p) => p.render(buf),
                None => buf.fill(0.0),
            }
            if let Some(c) = &mut self.capture {
                c.capture(buf);
            }
        }
        rt_exit(hook);
        Some(Duration::from_secs_f64(
            frames as f64 / (f64::from(self.format.sample_rate) * (1.0 + self.skew)),
        ))
    }
}

/// In-memory loopback device for tests and benches (see the module doc).
pub struct LoopbackDevice {
    inner: SoftDevice<LoopbackBackend>,
    unplugged: Arc<AtomicBool>,
}

impl LoopbackDevice {
    /// A loopback device with these settings.
    pub fn new(config: LoopbackConfig) -> Result<Self, AudioError> {
        config.format.validate()?;
        if !config.clock_skew.is_finite() || config.clock_skew.abs() > 0.1 {
            return Err(AudioError::UnsupportedConfig {
                reason: format!(
                    "loopback clock skew {} (must be within ±10 %)",
                    config.clock_skew
                ),
            });
        }
        let buffer_frames = match config.format.buffer_frames {
            Some(b) => b as usize,
            None => (config.format.sample_rate / 100) as usize,
        };
        let max_frames = buffer_frames + 64;
        let unplugged = Arc::new(AtomicBool::new(false));
        let backend = LoopbackBackend {
            format: DeviceFormat {
                buffer_frames: Some(buffer_frames as u32),
                ..config.format
            },
            buffer_frames,
            skew: config.clock_skew,
            vary: config.vary_buffer,
            turn: 0,
            playout: None,
            capture: None,
            scratch: vec![0.0; max_frames * usize::from(config.format.channels)],
            unplugged: Arc::clone(&unplugged),
        };
        Ok(LoopbackDevice {
            inner: SoftDevice::new("loopback".to_owned(), backend, config.pacing),
            unplugged,
        })
    }

    /// A handle that simulates unplugging the device.
    pub fn unplug_handle(&self) -> UnplugHandle {
        UnplugHandle(Arc::clone(&self.unplugged))
    }

    /// Sets the hook called around each period's real-time work (set it
    /// before `start`).
    pub fn set_realtime_hook(&mut self, hook: Option<RealtimeHook>) {
        self.inner.set_hook(hook);
    }

    /// With [`Pacing::Manual`]: runs one device period now and returns the
    /// time it covers on the (skewed) device clock.
    pub fn tick(&mut self) -> Result<Duration, AudioError> {
        self.inner.tick()
    }
}

soft_device_impls!(LoopbackDevice);
