//! voipkit-audio: audio devices and the real-time side of voipkit.
//!
//! # What this crate owns
//!
//! - The [`AudioDevice`] trait: open capture ([`AudioDevice::open_input`])
//!   and playout ([`AudioDevice::open_output`]) at an engine
//!   [`StreamConfig`] (rate, channels, 10 or 20 ms frames), `start`, `stop`,
//!   and [`DeviceEvent`]s such as a device unplugged mid-call.
//! - Backends: [`CpalDevice`] (real sound cards, feature `cpal`, off by
//!   default so the workspace builds without ALSA), [`WavDevice`] (a file as
//!   microphone, a file as speaker), [`NullDevice`] and [`LoopbackDevice`]
//!   (in memory, output looped to input, with a skewable clock, for tests
//!   and benches).
//! - The rings between the media thread and the real-time callback, and
//!   the callback's work: channel mixing, sample-type and rate conversion,
//!   underrun/overrun handling, and clock-drift absorption
//!   ([`DriftController`] steering a [`FractionalResampler`]).
//!
//! It does not own codecs, the jitter buffer or high-quality resampling of
//! whole signals (voipkit-codec), nor the media loop that moves frames
//! between the rings and the codec (the voipkit driver).
//!
//! # Threads and who owns what
//!
//! ```text
//!  media thread                         real-time thread (device)
//!  ------------                         -------------------------
//!  PlayoutStream::push_frame(&[i16]) -> ring (i16, engine format) -> PlayoutCallback::render(&mut [T])
//!  CaptureStream::pop_frame(&mut [i16]) <- ring (i16, engine format) <- CaptureCallback::capture(&[T])
//!  AudioDevice::poll_event()          <- atomic flags               <- device error / unplug
//!  PlayoutStream/CaptureStream::stats() <- relaxed atomic counters  <- callbacks
//! ```
//!
//! - [`playout_channel`] / [`capture_channel`] create a stream's two
//!   halves, like `std::sync::mpsc::channel`: the media half
//!   ([`PlayoutStream`], [`CaptureStream`]) is owned by the media thread;
//!   the real-time half ([`PlayoutCallback`], [`CaptureCallback`]) is owned
//!   by the device (moved into cpal's callback closure, or into a software
//!   device's thread). They share only a lock-free SPSC ring
//!   (`ringbuf::HeapRb::split`) and relaxed atomics.
//! - The ring always carries engine frames (`i16`, engine rate and
//!   channels). All conversion to and from the device format happens in the
//!   real-time half, sample by sample, with fixed-size state allocated when
//!   the stream is created, so the media thread and the codec never see the
//!   device format and the callback can take buffers of any length (cpal's
//!   are not a multiple of the frame size).
//! - Software devices run a thread of their own paced by the real clock
//!   ([`Pacing::RealTime`]), or none at all: with [`Pacing::Manual`] the
//!   owner calls `tick()` per device period, on virtual time.
//!
//! ```
//! use voipkit_audio::{
//!     AudioDevice, CaptureStatus, DeviceEvent, DeviceFormat, FrameDuration, LoopbackConfig,
//!     LoopbackDevice, Pacing, StreamConfig,
//! };
//!
//! // A 44.1 kHz stereo device driven by hand; the engine runs 48 kHz mono.
//! let mut config = LoopbackConfig::new(DeviceFormat::new(44_100, 2));
//! config.pacing = Pacing::Manual;
//! let mut device = LoopbackDevice::new(config)?;
//! let engine = StreamConfig::new(48_000, 1, FrameDuration::Ms20);
//! let mut playout = device.open_output(&engine)?;
//! let mut capture = device.open_input(&engine)?;
//! device.start()?;
//! let mut frame = vec![0i16; playout.samples_per_frame()];
//! for _ in 0..50 {
//!     // Media thread, every 20 ms: decoded audio out, captured audio in.
//!     playout.push_frame(&frame)?;
//!     if capture.pop_frame(&mut frame)? == CaptureStatus::Frame {
//!         // encode `frame` and send it
//!     }
//!     if let Some(DeviceEvent::DeviceLost { .. }) = device.poll_event() {
//!         break; // open another device
//!     }
//!     // The device's clock (a real device runs on its own thread).
//!     device.tick()?;
//!     device.tick()?;
//! }
//! assert_eq!(playout.stats().underruns, 0);
//! # Ok::<(), voipkit_audio::AudioError>(())
//! ```
//!
//! # The real-time rule
//!
//! Code reachable from `render`/`capture` (and the cpal closures around
//! them) never allocates, locks, logs, blocks or makes a system call of
//! ours. On underrun, playout plays silence (counted; it then re-primes to
//! the target fill); on overrun, the producer drops (counted). Events go
//! out as atomic flag bits, read by `poll_event` on the media thread. The
//! `no_alloc` test audits this with a counting global allocator, driving
//! the callbacks directly and through the loopback device's thread; a
//! [`RealtimeHook`] lets any device's real-time section be instrumented.
//!
//! # Drift
//!
//! The device clock and the media clock never agree exactly. Each
//! real-time half measures its ring fill every callback and a
//! [`DriftController`] (two-stage low-pass + PI, gain-scheduled from a fast
//! acquisition loop to a slow tracking loop) turns the error against the
//! target fill into a rate correction of at most ±2 % applied by the
//! resampler. We resample rather than drop or insert samples in quiet
//! parts: it works on any signal (music on hold, tones, continuous
//! noise), never clicks, and the same resampler converts rates anyway.
//! Measured on virtual time (`tests/drift.rs`): with the device 1 % fast
//! or slow for 10 minutes, zero underruns and overruns, the ring fill
//! stays within 5..35 ms around its 20 ms target (20 ms frames, 10 ms
//! device buffers) and averages the target to 0.003 ms over the last
//! minute; the correction wobbles by 100 ppm peak to peak once settled,
//! and a 1 kHz sine comes out with 84 dB spectral purity.
//!
//! # Latency
//!
//! Each ring's target ([`LatencyConfig::target`]) is the audio it holds in
//! front of the device's buffer: measured right after the device took its
//! buffer (playout) or right before it adds one (capture). The drift
//! controller holds the average of that measurement at the target, and a
//! stream starts (at first and after an underrun) exactly there: playout
//! begins with as much leading silence as leaves the target in the ring
//! (capture: the first frame starts with silence), and audio that arrived
//! at once beyond it is skipped. So a ring adds its target plus its
//! resampling kernel's delay ([`PlayoutStream::latency`],
//! [`CaptureStream::latency`]) from the first callback on, and never
//! more (`tests/latency.rs`, with drift correction on). The device's own
//! buffer, and where its callbacks fall between the media thread's frames,
//! come on top.
//!
//! The target defaults to half the frame/callback sawtooth + one device
//! buffer + 5 ms: 20 ms for 20 ms frames on 10 ms callbacks (see
//! [`StreamConfig::target_latency`] for why each term, and the
//! measurements), and rises by itself if the device's callbacks turn out
//! bigger than announced. Audio piled up far above the target (a
//! media-thread stall followed by a burst) is skipped down to the target
//! instead of being drained slowly.
//!
//! # Cost
//!
//! The one-channel paths (a mono engine on any device) work in blocks of
//! up to 256 frames: convert, [`FractionalResampler::process_mono`],
//! convert, with the rounding to integer samples done inline (no libm
//! call). With equal rates, no drift correction and matching formats the
//! resampler is a straight copy (a two-sample delay line).
//!
//! Rate conversion: a Kaiser-windowed sinc (48 taps at the lower rate,
//! 85..90 dB spectral purity, anti-aliased) when engine and device rates
//! differ; a cubic kernel when they are equal and only drift is absorbed
//! (see [`FractionalResampler`] and `tests/resampler_quality.rs`). Open
//! streams at the device's rate where the codec allows it: no conversion
//! is cheaper than a good one.
//!
//! # Why our own code
//!
//! ringbuf is the ring, cpal the sound card access, hound the WAV I/O. The
//! resampler is ours: the callback must vary the ratio continuously (every
//! callback, by a few ppm) on buffers of any length, with state allocated
//! once, which general-purpose resamplers (rubato: fixed chunk sizes per
//! call, ratio changes within a preset range only) are not built for.
//! voipkit-codec keeps its own resampler for whole-signal conversion on
//! the media thread.
#![warn(missing_docs)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

mod device;
mod drift;
mod error;
mod format;
mod loopback;
mod null;
mod resample;
mod soft;
mod stream;
mod wav;

#[cfg(feature = "cpal")]
mod cpal_backend;

pub use device::{AudioDevice, DeviceEvent, Direction, RealtimeHook, RealtimeSection};
pub use drift::{DriftConfig, DriftController};
pub use error::AudioError;
pub use format::{
    DeviceFormat, DeviceSample, FrameDuration, LatencyConfig, MAX_CHANNELS, MAX_SAMPLE_RATE,
    MIN_SAMPLE_RATE, StreamConfig,
};
pub use loopback::{LoopbackConfig, LoopbackDevice, UnplugHandle};
pub use null::NullDevice;
pub use resample::FractionalResampler;
pub use soft::Pacing;
pub use stream::{
    CaptureCallback, CaptureStatus, CaptureStream, PlayoutCallback, PlayoutStream, StreamStats,
    capture_channel, playout_channel,
};
pub use wav::WavDevice;

#[cfg(feature = "cpal")]
pub use cpal_backend::{CpalDevice, CpalDeviceInfo, cpal_devices};
