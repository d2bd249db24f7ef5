//! WAV files as devices: a file as the microphone (optionally looping) and
//! a file as the speaker, through hound.
//!
//! The device thread (or `tick`) reads and writes the files *outside* the
//! real-time section: each period it reads the next input block from the
//! file into a scratch buffer, then runs our callbacks on scratch buffers
//! (the real-time section, no allocation), then writes the rendered block.
//! Files keep their own rate and channel count; the callbacks convert.

use std::fs::File;
use std::io::BufReader;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hound::{SampleFormat, WavReader, WavSpec, WavWriter};

use crate::AudioError;
use crate::device::{Direction, RealtimeHook, rt_enter, rt_exit};
use crate::format::{DeviceFormat, DeviceSample, StreamConfig};
use crate::soft::{Pacing, SoftBackend, SoftDevice, soft_device_impls};
use crate::stream::{CaptureCallback, PlayoutCallback, event_bits};

/// Device time one period of a WAV device covers.
const PERIOD: Duration = Duration::from_millis(10);

/// Frames per period at a given rate, without accumulating rounding error.
#[derive(Debug, Clone, Copy)]
struct FrameClock {
    rate: u64,
    periods: u64,
}

impl FrameClock {
    fn new(rate: u32) -> Self {
        FrameClock {
            rate: u64::from(rate),
            periods: 0,
        }
    }

    fn next_frames(&mut self) -> usize {
        let period_us = PERIOD.as_micros() as u64;
        let before = self.periods * self.rate * period_us / 1_000_000;
        self.periods += 1;
        let after = self.periods * self.rate * period_us / 1_000_000;
        (after - before) as usize
    }

    fn max_frames(rate: u32) -> usize {
        (u64::from(rate) * PERIOD.as_micros() as u64 / 1_000_000 + 1) as usize
    }
}

struct WavInput {
    reader: WavReader<BufReader<File>>,
    format: DeviceFormat,
    looping: bool,
    ended: bool,
    clock: FrameClock,
    callback: Option<CaptureCallback>,
    scratch: Vec<f32>,
}

impl WavInput {
    /// Reads up to `out.len()` samples; returns how many were read. At the
    /// end of the file it rewinds (looping) or reports the end once.
    fn read(&mut self, out: &mut [f32]) -> Result<usize, hound::Error> {
        let spec = self.reader.spec();
        let mut filled = 0;
        while filled < out.len() {
            let rest = out.get_mut(filled..).unwrap_or_default();
            let n = match spec.sample_format {
                SampleFormat::Float => {
                    let mut n = 0;
                    for (o, s) in rest.iter_mut().zip(self.reader.samples::<f32>()) {
                        *o = s?;
                        n += 1;
                    }
                    n
                }
                SampleFormat::Int => {
                    let scale = 1.0 / (1u64 << (spec.bits_per_sample.clamp(1, 32) - 1)) as f64;
                    let mut n = 0;
                    for (o, s) in rest.iter_mut().zip(self.reader.samples::<i32>()) {
                        *o = (f64::from(s?) * scale) as f32;
                        n += 1;
                    }
                    n
                }
            };
            filled += n;
            if filled < out.len() {
                if self.looping && self.reader.len() > 0 {
                    self.reader.seek(0)?;
                } else {
                    break;
                }
            }
        }
        Ok(filled)
    }
}

struct WavOutput {
    path: PathBuf,
    fixed: Option<(u32, u16)>,
    writer: Option<WavWriter<BufWriter<File>>>,
    format: Option<DeviceFormat>,
    clock: Option<FrameClock>,
    callback: Option<PlayoutCallback>,
    scratch: Vec<f32>,
}

struct WavBackend {
    input: Option<WavInput>,
    output: Option<WavOutput>,
}

impl SoftBackend for WavBackend {
    fn device_format(
        &self,
        direction: Direction,
        config: &StreamConfig,
    ) -> Result<DeviceFormat, AudioError> {
        let missing = || AudioError::DirectionNotSupported {
            device: "wav".to_owned(),
            direction,
        };
        match direction {
            Direction::Input => self.input.as_ref().map(|i| i.format).ok_or_else(missing),
            Direction::Output => {
                let out = self.output.as_ref().ok_or_else(missing)?;
                let (rate, channels) = out.fixed.unwrap_or((config.sample_rate, config.channels));
                let format = DeviceFormat {
                    sample_rate: rate,
                    channels,
                    buffer_frames: Some((rate / 100).max(1)),
                };
                format.validate()?;
                Ok(format)
            }
        }
    }

    /// Creates the output file, at the device format.
    fn attach_playout(
        &mut self,
        callback: PlayoutCallback,
        format: DeviceFormat,
    ) -> Result<(), AudioError> {
        if let Some(out) = &mut self.output {
            let spec = WavSpec {
                channels: format.channels,
                sample_rate: format.sample_rate,
                bits_per_sample: 16,
                sample_format: SampleFormat::Int,
            };
            let writer = WavWriter::create(&out.path, spec).map_err(|source| AudioError::Wav {
                path: out.path.clone(),
                source,
            })?;
            out.writer = Some(writer);
            out.scratch = vec![
                0.0;
                FrameClock::max_frames(format.sample_rate)
                    * usize::from(format.channels)
            ];
            out.clock = Some(FrameClock::new(format.sample_rate));
            out.format = Some(format);
            out.callback = Some(callback);
        }
        Ok(())
    }

    fn attach_capture(&mut self, callback: CaptureCallback, _format: DeviceFormat) {
        if let Some(input) = &mut self.input {
            input.callback = Some(callback);
        }
    }

    fn has(&self, direction: Direction) -> bool {
        match direction {
            Direction::Input => self.input.as_ref().is_some_and(|i| i.callback.is_some()),
            Direction::Output => self.output.as_ref().is_some_and(|o| o.callback.is_some()),
        }
    }

    fn period(&mut self, hook: Option<RealtimeHook>) -> Option<Duration> {
        // Device side, outside the real-time section: read the file.
        let mut input_len = 0;
        let mut input_ok = true;
        if let Some(input) = &mut self.input
            && input.callback.is_some()
        {
            let channels = usize::from(input.format.channels);
            let want = input.clock.next_frames() * channels;
            let mut scratch = std::mem::take(&mut input.scratch);
            let buf = scratch.get_mut(..want).unwrap_or_default();
            match input.read(buf) {
                Ok(n) => {
                    if n < want {
                        buf.get_mut(n..).unwrap_or_default().fill(0.0);
                        if !input.ended {
                            input.ended = true;
                            if let Some(c) = &input.callback {
                                c.shared().raise(event_bits::END_OF_INPUT);
                            }
                        }
                    }
                    input_len = want;
                }
                Err(_) => {
                    input_ok = false;
                    if let Some(c) = &input.callback {
                        c.shared().raise(event_bits::BACKEND_ERROR);
                    }
                }
            }
            input.scratch = scratch;
        }
        let mut output_len = 0;
        if let Some(out) = &mut self.output
            && let (Some(format), Some(clock)) = (out.format, &mut out.clock)
        {
            output_len = clock.next_frames() * usize::from(format.channels);
        }

        // The real-time section: our callbacks on scratch buffers.
        rt_enter(hook);
        if let Some(input) = &mut self.input
            && let (Some(c), Some(buf)) = (&mut input.callback, input.scratch.get(..input_len))
        {
            c.capture(buf);
        }
        if let Some(out) = &mut self.output
            && let (Some(p), Some(buf)) = (&mut out.callback, out.scratch.get_mut(..output_len))
        {
            p.render(buf);
        }
        rt_exit(hook);

        // Device side again: write the rendered block.
        let mut output_ok = true;
        if let Some(out) = &mut self.output
            && let (Some(w), Some(buf)) = (&mut out.writer, out.scratch.get(..output_len))
        {
            let mut writer = w.get_i16_writer(output_len as u32);
            for &s in buf {
                writer.write_sample(i16::from_f32(s));
            }
            if writer.flush().is_err() {
                output_ok = false;
                if let Some(p) = &out.callback {
                    p.shared().raise(event_bits::BACKEND_ERROR);
                }
            }
        }
        if input_ok && output_ok {
            Some(PERIOD)
        } else {
            None
        }
    }

    fn on_stop(&mut self) -> Result<(), AudioError> {
        if let Some(out) = &mut self.output
            && let Some(w) = &mut out.writer
        {
            w.flush().map_err(|source| AudioError::Wav {
                path: out.path.clone(),
                source,
            })?;
        }
        Ok(())
    }
}

/// WAV files as a microphone and/or a speaker (see the module doc).
pub struct WavDevice {
    inner: SoftDevice<WavBackend>,
}

impl WavDevice {
    /// A WAV device with neither file yet; add them with
    /// [`with_input`](Self::with_input) and [`with_output`](Self::with_output).
    pub fn new(pacing: Pacing) -> Self {
        WavDevice {
            inner: SoftDevice::new(
                "wav".to_owned(),
                WavBackend {
                    input: None,
                    output: None,
                },
                pacing,
            ),
        }
    }

    /// Uses the WAV file at `path` as the microphone (any rate, channel
    /// count, 8..32-bit integer or float). When it ends, capture continues
    /// with silence and [`DeviceEvent::EndOfInput`](crate::DeviceEvent::EndOfInput) is reported once, or it
    /// starts over if `looping`.
    pub fn with_input(mut self, path: impl AsRef<Path>, looping: bool) -> Result<Self, AudioError> {
        let path = path.as_ref().to_path_buf();
        let reader = WavReader::open(&path).map_err(|source| AudioError::Wav {
            path: path.clone(),
            source,
        })?;
        let spec = reader.spec();
        let format = DeviceFormat {
            sample_rate: spec.sample_rate,
            channels: spec.channels,
            buffer_frames: Some((spec.sample_rate / 100).max(1)),
        };
        format.validate()?;
        let valid_bits = match spec.sample_format {
            SampleFormat::Float => spec.bits_per_sample == 32,
            SampleFormat::Int => (8..=32).contains(&spec.bits_per_sample),
        };
        if !valid_bits {
            return Err(AudioError::UnsupportedConfig {
                reason: format!(
                    "WAV sample format {:?} with {} bits",
                    spec.sample_format, spec.bits_per_sample
                ),
            });
        }
        let scratch =
            vec![0.0; FrameClock::max_frames(spec.sample_rate) * usize::from(spec.channels)];
        self.inner.backend_mut()?.input = Some(WavInput {
            reader,
            format,
            looping,
            ended: false,
            clock: FrameClock::new(spec.sample_rate),
            callback: None,
            scratch,
        });
        Ok(self)
    }

    /// Uses a new 16-bit WAV file at `path` as the speaker, at `format`
    /// (rate, channels), or at the engine's format when `None`. The file is
    /// created when the output stream is opened.
    pub fn with_output(
        mut self,
        path: impl AsRef<Path>,
        format: Option<(u32, u16)>,
    ) -> Result<Self, AudioError> {
        if let Some((rate, channels)) = format {
            DeviceFormat::new(rate, channels).validate()?;
        }
        self.inner.backend_mut()?.output = Some(WavOutput {
            path: path.as_ref().to_path_buf(),
            fixed: format,
            writer: None,
            format: None,
            clock: None,
            callback: None,
            scratch: Vec::new(),
        });
        Ok(self)
    }

    /// Sets the hook called around each period's real-time work.
    pub fn set_realtime_hook(&mut self, hook: Option<RealtimeHook>) {
        self.inner.set_hook(hook);
    }

    /// With [`Pacing::Manual`]: runs one 10 ms period now (reads, converts,
    /// writes) and returns the time it covers.
    pub fn tick(&mut self) -> Result<Duration, AudioError> {
        self.inner.tick()
    }

    /// Stops the device and completes the output file's header. Dropping
    /// the device does the same but cannot report errors.
    pub fn finalize(&mut self) -> Result<(), AudioError> {
        self.inner.stop()?;
        let backend = self.inner.backend_mut()?;
        if let Some(out) = &mut backend.output
            && let Some(w) = out.writer.take()
        {
            w.finalize().map_err(|source| AudioError::Wav {
                path: out.path.clone(),
                source,
            })?;
        }
        Ok(())
    }
}

soft_device_impls!(WavDevice);
