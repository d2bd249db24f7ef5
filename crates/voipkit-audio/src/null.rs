//! The null device: plays into nothing and captures silence, at its own
//! pace, like ALSA's `null` PCM. For headless runs and as a stand-in when
//! no sound card exists.

use std::time::Duration;

use crate::AudioError;
use crate::device::{Direction, RealtimeHook, rt_enter, rt_exit};
use crate::format::{DeviceFormat, StreamConfig};
use crate::soft::{Pacing, SoftBackend, SoftDevice, soft_device_impls};
use crate::stream::{CaptureCallback, PlayoutCallback};

struct NullBackend {
    /// Fixed by the constructor, or by the first stream opened.
    format: Option<DeviceFormat>,
    playout: Option<PlayoutCallback>,
    capture: Option<CaptureCallback>,
    scratch: Vec<f32>,
}

impl NullBackend {
    fn buffer_frames(&self) -> usize {
        self.format
            .and_then(|f| f.buffer_frames)
            .map(|b| b as usize)
            .unwrap_or(0)
    }

    fn fix_format(&mut self, format: DeviceFormat) {
        self.format = Some(format);
        let needed = self.buffer_frames() * usize::from(format.channels);
        if self.scratch.len() < needed {
            self.scratch = vec![0.0; needed];
        }
    }
}

impl SoftBackend for NullBackend {
    fn device_format(
        &self,
        _direction: Direction,
        config: &StreamConfig,
    ) -> Result<DeviceFormat, AudioError> {
        Ok(self.format.unwrap_or(DeviceFormat {
            sample_rate: config.sample_rate,
            channels: config.channels,
            buffer_frames: Some(config.sample_rate / 100),
        }))
    }

    fn attach_playout(
        &mut self,
        callback: PlayoutCallback,
        format: DeviceFormat,
    ) -> Result<(), AudioError> {
        self.fix_format(format);
        self.playout = Some(callback);
        Ok(())
    }

    fn attach_capture(&mut self, callback: CaptureCallback, format: DeviceFormat) {
        self.fix_format(format);
        self.capture = Some(callback);
    }

    fn has(&self, direction: Direction) -> bool {
        match direction {
            Direction::Input => self.capture.is_some(),
            Direction::Output => self.playout.is_some(),
        }
    }

    fn period(&mut self, hook: Option<RealtimeHook>) -> Option<Duration> {
        let format = self.format?;
        let frames = self.buffer_frames();
        rt_enter(hook);
        if let Some(buf) = self
            .scratch
            .get_mut(..frames * usize::from(format.channels))
        {
            if let Some(p) = &mut self.playout {
                p.render(buf);
            }
            if let Some(c) = &mut self.capture {
                buf.fill(0.0);
                c.capture(buf);
            }
        }
        rt_exit(hook);
        Some(Duration::from_secs_f64(
            frames as f64 / f64::from(format.sample_rate),
        ))
    }
}

/// A device that discards playout and captures silence, paced like a
/// sound card (or by manual ticks).
pub struct NullDevice {
    inner: SoftDevice<NullBackend>,
}

impl NullDevice {
    /// A null device. With `format` `None` it runs at the format of the
    /// first stream opened (10 ms buffers), so nothing is converted.
    pub fn new(format: Option<DeviceFormat>, pacing: Pacing) -> Result<Self, AudioError> {
        let format = match format {
            Some(f) => {
                f.validate()?;
                Some(DeviceFormat {
                    buffer_frames: Some(f.buffer_frames.unwrap_or(f.sample_rate / 100).max(1)),
                    ..f
                })
            }
            None => None,
        };
        let mut backend = NullBackend {
            format: None,
            playout: None,
            capture: None,
            scratch: Vec::new(),
        };
        if let Some(f) = format {
            backend.fix_format(f);
        }
        Ok(NullDevice {
            inner: SoftDevice::new("null".to_owned(), backend, pacing),
        })
    }

    /// Sets the hook called around each period's real-time work.
    pub fn set_realtime_hook(&mut self, hook: Option<RealtimeHook>) {
        self.inner.set_hook(hook);
    }

    /// With [`Pacing::Manual`]: runs one device period now and returns the
    /// time it covers.
    pub fn tick(&mut self) -> Result<Duration, AudioError> {
        self.inner.tick()
    }
}

soft_device_impls!(NullDevice);
