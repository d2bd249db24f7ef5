//! Real sound cards through cpal (feature `cpal`).
//!
//! Each stream's real-time half is moved into cpal's data callback; the
//! closure does nothing but the [`RealtimeHook`], a relaxed atomic load (the
//! software pause gate) and `render`/`capture`. cpal's error callback only
//! sets atomic event bits, turned into [`DeviceEvent`]s by `poll_event`.
//!
//! The device format is chosen to avoid conversion where the card allows:
//! the engine's rate and channel count if supported, else the engine rate
//! with the nearest channel count, else the card's default; sample type
//! f32, then i16, i32, u16.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{ErrorKind, SampleFormat, SizedSample, SupportedStreamConfig};

use crate::AudioError;
use crate::device::{
    AudioDevice, DeviceEvent, Direction, EventQueue, RealtimeHook, rt_enter, rt_exit,
};
use crate::format::{DeviceFormat, DeviceSample, MAX_CHANNELS, StreamConfig};
use crate::stream::{
    CaptureCallback, CaptureStream, PlayoutCallback, PlayoutStream, Shared, capture_channel,
    event_bits, playout_channel,
};

/// A device cpal can see.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CpalDeviceInfo {
    /// Stable id, e.g. `alsa:null` (what [`CpalDevice::by_id`] takes).
    pub id: String,
    /// Human-readable description.
    pub name: String,
    /// Whether it can capture.
    pub input: bool,
    /// Whether it can play.
    pub output: bool,
}

/// Lists the devices of the default host.
pub fn cpal_devices() -> Result<Vec<CpalDeviceInfo>, AudioError> {
    let host = cpal::default_host();
    let devices = host
        .devices()
        .map_err(|e| AudioError::Backend(format!("listing devices: {e}")))?;
    Ok(devices
        .map(|d| CpalDeviceInfo {
            id: d.id().map(|id| id.to_string()).unwrap_or_default(),
            name: d.to_string(),
            input: d.supports_input(),
            output: d.supports_output(),
        })
        .collect())
}

/// Maps a cpal error met while opening or starting.
fn open_error(err: &cpal::Error, device: &str, direction: Direction) -> AudioError {
    match err.kind() {
        ErrorKind::DeviceNotAvailable | ErrorKind::HostUnavailable => {
            AudioError::DeviceNotAvailable {
                device: device.to_owned(),
                direction,
                detail: err.to_string(),
            }
        }
        ErrorKind::DeviceBusy => AudioError::DeviceBusy {
            device: device.to_owned(),
        },
        ErrorKind::PermissionDenied => AudioError::PermissionDenied {
            device: device.to_owned(),
        },
        ErrorKind::UnsupportedConfig | ErrorKind::InvalidInput => AudioError::UnsupportedConfig {
            reason: format!("{device}: {err}"),
        },
        ErrorKind::UnsupportedOperation => AudioError::DirectionNotSupported {
            device: device.to_owned(),
            direction,
        },
        _ => AudioError::Backend(format!("{device} ({direction}): {err}")),
    }
}

/// Maps a cpal error reported while running to an event bit (0: ignore).
fn event_bit(kind: ErrorKind) -> u32 {
    match kind {
        ErrorKind::DeviceNotAvailable | ErrorKind::HostUnavailable => event_bits::DEVICE_LOST,
        ErrorKind::StreamInvalidated => event_bits::STREAM_INVALIDATED,
        ErrorKind::DeviceChanged => event_bits::ROUTE_CHANGED,
        ErrorKind::Xrun => event_bits::DEVICE_XRUN,
        ErrorKind::RealtimeDenied => 0,
        _ => event_bits::BACKEND_ERROR,
    }
}

fn format_rank(format: SampleFormat) -> Option<u8> {
    match format {
        SampleFormat::F32 => Some(0),
        SampleFormat::I16 => Some(1),
        SampleFormat::I32 => Some(2),
        SampleFormat::U16 => Some(3),
        _ => None,
    }
}

/// Picks the device configuration for an engine config (see module doc).
fn choose_config(
    device: &cpal::Device,
    direction: Direction,
    config: &StreamConfig,
    name: &str,
) -> Result<SupportedStreamConfig, AudioError> {
    let ranges: Vec<cpal::SupportedStreamConfigRange> = match direction {
        Direction::Input => device.supported_input_configs().map(|r| r.collect()),
        Direction::Output => device.supported_output_configs().map(|r| r.collect()),
    }
    .map_err(|e| open_error(&e, name, direction))?;
    let rate = config.sample_rate;
    let best = ranges
        .iter()
        .filter(|r| {
            format_rank(r.sample_format()).is_some()
                && (1..=MAX_CHANNELS).contains(&usize::from(r.channels()))
                && r.min_sample_rate() <= rate
                && rate <= r.max_sample_rate()
        })
        .min_by_key(|r| {
            (
                r.channels().abs_diff(config.channels),
                format_rank(r.sample_format()),
            )
        });
    if let Some(range) = best
        && let Some(chosen) = (*range).try_with_sample_rate(rate)
    {
        return Ok(chosen);
    }
    let default = match direction {
        Direction::Input => device.default_input_config(),
        Direction::Output => device.default_output_config(),
    }
    .map_err(|e| open_error(&e, name, direction))?;
    if format_rank(default.sample_format()).is_none()
        || !(1..=MAX_CHANNELS).contains(&usize::from(default.channels()))
    {
        return Err(AudioError::UnsupportedConfig {
            reason: format!(
                "{name}: default format {:?} x {} channels not usable",
                default.sample_format(),
                default.channels()
            ),
        });
    }
    Ok(default)
}

/// A sound card (or any cpal device) for capture and/or playout.
pub struct CpalDevice {
    name: String,
    input: Option<cpal::Device>,
    output: Option<cpal::Device>,
    input_stream: Option<cpal::Stream>,
    output_stream: Option<cpal::Stream>,
    /// Software pause gate shared with the callbacks (for cards that
    /// cannot pause in hardware).
    paused: Arc<AtomicBool>,
    events: EventQueue,
    hook: Option<RealtimeHook>,
    buffer_frames: Option<u32>,
    running: bool,
}

impl std::fmt::Debug for CpalDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CpalDevice")
            .field("name", &self.name)
            .field("running", &self.running)
            .finish_non_exhaustive()
    }
}

impl CpalDevice {
    fn with_devices(
        name: String,
        input: Option<cpal::Device>,
        output: Option<cpal::Device>,
    ) -> Self {
        CpalDevice {
            name,
            input,
            output,
            input_stream: None,
            output_stream: None,
            paused: Arc::new(AtomicBool::new(true)),
            events: EventQueue::default(),
            hook: None,
            buffer_frames: None,
            running: false,
        }
    }

    /// The default host's default input and output devices. Succeeds when
    /// the host names a default (even one that turns out unusable: opening
    /// a stream then fails with [`AudioError::DeviceNotAvailable`]).
    pub fn default_device() -> Result<Self, AudioError> {
        let host = cpal::default_host();
        let input = host.default_input_device();
        let output = host.default_output_device();
        if input.is_none() && output.is_none() {
            return Err(AudioError::DeviceNotAvailable {
                device: "default".to_owned(),
                direction: Direction::Output,
                detail: "the audio host has no default device".to_owned(),
            });
        }
        let name = output
            .as_ref()
            .or(input.as_ref())
            .map(|d| d.to_string())
            .unwrap_or_default();
        Ok(Self::with_devices(name, input, output))
    }

    /// The device whose id (`alsa:null`), id without host (`null`) or
    /// name matches, for whichever directions it supports.
    pub fn by_id(id: &str) -> Result<Self, AudioError> {
        let host = cpal::default_host();
        let devices = host.devices().map_err(|e| AudioError::DeviceNotAvailable {
            device: id.to_owned(),
            direction: Direction::Output,
            detail: e.to_string(),
        })?;
        for device in devices {
            let full = device.id().map(|d| d.to_string()).unwrap_or_default();
            let short = full.split_once(':').map(|(_, s)| s).unwrap_or("");
            if full == id || short == id || device.to_string() == id {
                let input = device.supports_input().then(|| device.clone());
                let output = device.supports_output().then(|| device.clone());
                return Ok(Self::with_devices(full, input, output));
            }
        }
        Err(AudioError::DeviceNotAvailable {
            device: id.to_owned(),
            direction: Direction::Output,
            detail: "no such device".to_owned(),
        })
    }

    /// Asks for a fixed callback size (frames) for streams opened later;
    /// `None` (the default) takes the card's default.
    pub fn set_buffer_frames(&mut self, frames: Option<u32>) {
        self.buffer_frames = frames;
    }

    /// Sets the hook called around each real-time callback (set it before
    /// opening streams).
    pub fn set_realtime_hook(&mut self, hook: Option<RealtimeHook>) {
        self.hook = hook;
    }

    /// What opening a stream starts with: the state checks, then the
    /// device of `direction` and the configuration chosen for `config`.
    fn prepare(
        &self,
        direction: Direction,
        config: &StreamConfig,
    ) -> Result<(cpal::Device, SupportedStreamConfig), AudioError> {
        let (device, stream, missing) = match direction {
            Direction::Input => (&self.input, &self.input_stream, "no input device"),
            Direction::Output => (&self.output, &self.output_stream, "no output device"),
        };
        if self.running {
            return Err(AudioError::Running);
        }
        if stream.is_some() {
            return Err(AudioError::AlreadyOpen { direction });
        }
        config.validate()?;
        let device = device
            .clone()
            .ok_or_else(|| AudioError::DeviceNotAvailable {
                device: self.name.clone(),
                direction,
                detail: missing.to_owned(),
            })?;
        let chosen = choose_config(&device, direction, config, &self.name)?;
        Ok((device, chosen))
    }

    fn stream_config(&self, chosen: &SupportedStreamConfig) -> (cpal::StreamConfig, DeviceFormat) {
        let mut stream_config = chosen.config();
        let hint = match self.buffer_frames {
            Some(frames) => {
                stream_config.buffer_size = cpal::BufferSize::Fixed(frames);
                Some(frames)
            }
            None => None,
        };
        let format = DeviceFormat {
            sample_rate: chosen.sample_rate(),
            channels: chosen.channels(),
            buffer_frames: hint,
        };
        (stream_config, format)
    }

    fn build_output<T: SizedSample + DeviceSample>(
        &self,
        device: &cpal::Device,
        stream_config: cpal::StreamConfig,
        mut callback: PlayoutCallback,
        shared: Arc<Shared>,
    ) -> Result<cpal::Stream, cpal::Error> {
        let hook = self.hook;
        let paused = Arc::clone(&self.paused);
        device.build_output_stream::<T, _, _>(
            stream_config,
            move |data: &mut [T], _: &cpal::OutputCallbackInfo| {
                rt_enter(hook);
                if paused.load(Ordering::Relaxed) {
                    data.fill(T::SILENCE);
                } else {
                    callback.render(data);
                }
                rt_exit(hook);
            },
            move |err: cpal::Error| shared.raise(event_bit(err.kind())),
            None,
        )
    }

    fn build_input<T: SizedSample + DeviceSample>(
        &self,
        device: &cpal::Device,
        stream_config: cpal::StreamConfig,
        mut callback: CaptureCallback,
        shared: Arc<Shared>,
    ) -> Result<cpal::Stream, cpal::Error> {
        let hook = self.hook;
        let paused = Arc::clone(&self.paused);
        device.build_input_stream::<T, _, _>(
            stream_config,
            move |data: &[T], _: &cpal::InputCallbackInfo| {
                rt_enter(hook);
                if !paused.load(Ordering::Relaxed) {
                    callback.capture(data);
                }
                rt_exit(hook);
            },
            move |err: cpal::Error| shared.raise(event_bit(err.kind())),
            None,
        )
    }
}

impl AudioDevice for CpalDevice {
    fn name(&self) -> &str {
        &self.name
    }

    fn open_input(&mut self, config: &StreamConfig) -> Result<CaptureStream, AudioError> {
        let direction = Direction::Input;
        let (device, chosen) = self.prepare(direction, config)?;
        let (stream_config, format) = self.stream_config(&chosen);
        let (stream, callback) = capture_channel(config, &format)?;
        let shared = Arc::clone(stream.shared());
        let built = match chosen.sample_format() {
            SampleFormat::I16 => self.build_input::<i16>(&device, stream_config, callback, shared),
            SampleFormat::I32 => self.build_input::<i32>(&device, stream_config, callback, shared),
            SampleFormat::U16 => self.build_input::<u16>(&device, stream_config, callback, shared),
            _ => self.build_input::<f32>(&device, stream_config, callback, shared),
        }
        .map_err(|e| open_error(&e, &self.name, direction))?;
        self.input_stream = Some(built);
        self.events
            .add_source(direction, Arc::clone(stream.shared()));
        Ok(stream)
    }

    fn open_output(&mut self, config: &StreamConfig) -> Result<PlayoutStream, AudioError> {
        let direction = Direction::Output;
        let (device, chosen) = self.prepare(direction, config)?;
        let (stream_config, format) = self.stream_config(&chosen);
        let (stream, callback) = playout_channel(config, &format)?;
        let shared = Arc::clone(stream.shared());
        let built = match chosen.sample_format() {
            SampleFormat::I16 => self.build_output::<i16>(&device, stream_config, callback, shared),
            SampleFormat::I32 => self.build_output::<i32>(&device, stream_config, callback, shared),
            SampleFormat::U16 => self.build_output::<u16>(&device, stream_config, callback, shared),
            _ => self.build_output::<f32>(&device, stream_config, callback, shared),
        }
        .map_err(|e| open_error(&e, &self.name, direction))?;
        self.output_stream = Some(built);
        self.events
            .add_source(direction, Arc::clone(stream.shared()));
        Ok(stream)
    }

    fn start(&mut self) -> Result<(), AudioError> {
        if self.running {
            return Err(AudioError::Running);
        }
        if self.input_stream.is_none() && self.output_stream.is_none() {
            return Err(AudioError::NoStream);
        }
        self.paused.store(false, Ordering::Relaxed);
        for (stream, direction) in [
            (&self.output_stream, Direction::Output),
            (&self.input_stream, Direction::Input),
        ] {
            if let Some(s) = stream
                && let Err(e) = s.play()
            {
                self.paused.store(true, Ordering::Relaxed);
                return Err(open_error(&e, &self.name, direction));
            }
        }
        self.running = true;
        Ok(())
    }

    fn stop(&mut self) -> Result<(), AudioError> {
        // The gate stops ring traffic at once; a hardware pause (where the
        // card supports it) also stops the callbacks.
        self.paused.store(true, Ordering::Relaxed);
        for s in [&self.output_stream, &self.input_stream]
            .into_iter()
            .flatten()
        {
            let _ = s.pause();
        }
        self.running = false;
        Ok(())
    }

    fn is_running(&self) -> bool {
        self.running
    }

    fn poll_event(&mut self) -> Option<DeviceEvent> {
        let event = self.events.poll();
        if matches!(event, Some(DeviceEvent::DeviceLost { .. })) {
            self.running = false;
        }
        event
    }
}
