//! The two halves of each stream: the media-thread half
//! ([`PlayoutStream`], [`CaptureStream`]) and the real-time half
//! ([`PlayoutCallback`], [`CaptureCallback`]), joined by a lock-free SPSC
//! ring of engine-format `i16` samples (ringbuf's `HeapRb`).
//!
//! Conversion lives in the real-time half: the ring always carries engine
//! frames (engine rate, engine channels, `i16`), so the media thread and
//! the codec never see the device format, and the callback converts
//! sample by sample with fixed-size state (channel mix, fractional
//! resampling with the drift correction, sample type). The resampler runs
//! at `min(engine channels, device channels)` so a mono call on a stereo
//! device resamples one channel, not two.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use ringbuf::traits::{Consumer, Observer, Producer, Split};
use ringbuf::{HeapCons, HeapProd, HeapRb};

use crate::AudioError;
use crate::drift::DriftController;
use crate::format::{DeviceFormat, DeviceSample, MAX_CHANNELS, StreamConfig};
use crate::resample::FractionalResampler;

/// Engine sample frames moved between the ring and the resampler at once.
const CHUNK_FRAMES: usize = 256;

/// Frames converted and resampled at once on the one-channel paths (stack
/// buffers of the real-time callbacks).
const BLOCK_FRAMES: usize = 256;

pub(crate) mod event_bits {
    pub const DEVICE_LOST: u32 = 1;
    pub const STREAM_INVALIDATED: u32 = 1 << 1;
    pub const ROUTE_CHANGED: u32 = 1 << 2;
    pub const BACKEND_ERROR: u32 = 1 << 3;
    pub const END_OF_INPUT: u32 = 1 << 4;
    pub const DEVICE_XRUN: u32 = 1 << 5;
}

/// State shared by the two halves of a stream: counters (relaxed atomics)
/// and device event flags. The real-time half only does atomic stores and
/// read-modify-writes on it.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    callbacks: AtomicU64,
    underruns: AtomicU64,
    overruns: AtomicU64,
    silence_samples: AtomicU64,
    dropped_samples: AtomicU64,
    fill_us: AtomicU32,
    max_fill_us: AtomicU32,
    correction_ppm: AtomicI32,
    /// Capture only: the media side has primed (the controller may run).
    consumer_primed: AtomicBool,
    /// Current target fill, engine sample frames (raised by the callback
    /// when the device turns out to use bigger buffers than assumed).
    target_frames: AtomicUsize,
    /// Fill above which the consumer skips down to the target.
    ceiling_frames: AtomicUsize,
    /// Engine sample frames the last device callback carried.
    callback_frames: AtomicUsize,
    /// Device event flags, see `event_bits`.
    events: AtomicU32,
}

impl Shared {
    pub(crate) fn raise(&self, bits: u32) {
        self.events.fetch_or(bits, Ordering::Relaxed);
    }

    pub(crate) fn take_events(&self) -> u32 {
        self.events.swap(0, Ordering::Relaxed)
    }

    /// Counts `samples` samples of audio dropped.
    #[inline]
    fn count_dropped(&self, samples: usize) {
        self.dropped_samples
            .fetch_add(samples as u64, Ordering::Relaxed);
    }

    /// Counts an overrun that dropped `samples` samples.
    #[inline]
    fn count_overrun(&self, samples: usize) {
        self.overruns.fetch_add(1, Ordering::Relaxed);
        self.count_dropped(samples);
    }

    /// Counts an underrun that `samples` samples of silence stood in for.
    #[inline]
    fn count_underrun(&self, samples: usize) {
        self.underruns.fetch_add(1, Ordering::Relaxed);
        self.silence_samples
            .fetch_add(samples as u64, Ordering::Relaxed);
    }

    fn record_fill(&self, fill_seconds: f64, correction: f64) {
        let us = (fill_seconds * 1e6).clamp(0.0, f64::from(u32::MAX)) as u32;
        self.fill_us.store(us, Ordering::Relaxed);
        self.max_fill_us.fetch_max(us, Ordering::Relaxed);
        self.correction_ppm
            .store((correction * 1e6) as i32, Ordering::Relaxed);
    }

    fn stats(&self) -> StreamStats {
        StreamStats {
            callbacks: self.callbacks.load(Ordering::Relaxed),
            underruns: self.underruns.load(Ordering::Relaxed),
            overruns: self.overruns.load(Ordering::Relaxed),
            silence_samples: self.silence_samples.load(Ordering::Relaxed),
            dropped_samples: self.dropped_samples.load(Ordering::Relaxed),
            fill: Duration::from_micros(u64::from(self.fill_us.load(Ordering::Relaxed))),
            max_fill: Duration::from_micros(u64::from(self.max_fill_us.load(Ordering::Relaxed))),
            drift_correction_ppm: self.correction_ppm.load(Ordering::Relaxed),
        }
    }
}

/// A snapshot of a stream's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StreamStats {
    /// Real-time callbacks run.
    pub callbacks: u64,
    /// Times the consumer found the ring empty while running. Playout: the
    /// callback played silence and re-primes. Capture: `pop_frame` had no
    /// whole frame after priming.
    pub underruns: u64,
    /// Times the producer found no room, or the consumer discarded audio
    /// above the latency ceiling. Playout: frames refused by `push_frame`
    /// or skipped by the callback. Capture: callbacks that dropped samples
    /// or stale audio skipped by `pop_frame`.
    pub overruns: u64,
    /// Samples of silence played because of underruns (playout) or handed
    /// out by `pop_frame` in place of audio (capture).
    pub silence_samples: u64,
    /// Samples of audio dropped by overruns.
    pub dropped_samples: u64,
    /// Ring fill (engine audio) last measured by the callback.
    pub fill: Duration,
    /// Highest `fill` seen (see `reset_max_fill`).
    pub max_fill: Duration,
    /// Current drift correction in parts per million.
    pub drift_correction_ppm: i32,
}

/// Geometry common to both directions, derived once at creation.
#[derive(Clone, Copy, Debug)]
struct Geometry {
    engine_channels: usize,
    device_channels: usize,
    work_channels: usize,
    engine_rate: f64,
    device_rate: f64,
    frame_samples: usize,
    /// Initial target fill in engine sample frames.
    target_frames: usize,
    /// How far above the target the ceiling sits.
    ceiling_margin: usize,
    /// With an automatic target: the engine configuration, to size the
    /// target again for the largest device buffer seen.
    auto: Option<StreamConfig>,
    /// Largest target the ring can hold with its ceiling and a frame.
    max_target: usize,
}

impl Geometry {
    fn new(config: &StreamConfig, device: &DeviceFormat) -> Result<(Self, usize), AudioError> {
        config.validate()?;
        device.validate()?;
        let engine_channels = usize::from(config.channels);
        let device_channels = usize::from(device.channels);
        let engine_rate = f64::from(config.sample_rate);
        let target = config.target_latency(device.buffer_duration());
        let frame_frames = config.frames_per_frame();
        let target_frames = (target.as_secs_f64() * engine_rate).round() as usize;
        let ceiling_margin = (3 * frame_frames).max(config.sample_rate as usize / 16);
        let capacity_frames = ((config.latency.capacity.as_secs_f64() * engine_rate) as usize)
            .max(target_frames + ceiling_margin + 2 * frame_frames);
        let auto = config.latency.target.is_none().then_some(*config);
        Ok((
            Geometry {
                engine_channels,
                device_channels,
                work_channels: engine_channels.min(device_channels),
                engine_rate,
                device_rate: f64::from(device.sample_rate),
                frame_samples: config.samples_per_frame(),
                target_frames,
                ceiling_margin,
                auto,
                max_target: capacity_frames - ceiling_margin - frame_frames,
            },
            capacity_frames * engine_channels,
        ))
    }
}

impl Geometry {
    /// Engine frames per media frame.
    fn frame_frames(&self) -> usize {
        self.frame_samples / self.engine_channels.max(1)
    }

    /// Half the fill sawtooth between the media thread's frames and
    /// device callbacks of `callback_frames` engine frames, when frames
    /// are the bigger: a callback's fill measurement ranges over
    /// `frame - callback` as the frame's audio is used up (or built up),
    /// so the fill right after the media thread's push (playout) or pop
    /// (capture), where a stream starts, is this far from the average.
    fn half_sawtooth(&self, callback_frames: usize) -> usize {
        self.frame_frames().saturating_sub(callback_frames) / 2
    }
}

/// The callback side's view of the latency target: raises it (automatic
/// targets only) when the device delivers bigger buffers than assumed, and
/// publishes it to the media side.
#[derive(Clone, Copy, Debug)]
struct TargetTracker {
    target_frames: usize,
    ceiling_frames: usize,
    max_device_frames: usize,
}

impl TargetTracker {
    fn new(g: &Geometry, shared: &Shared) -> Self {
        let t = TargetTracker {
            target_frames: g.target_frames,
            ceiling_frames: g.target_frames + g.ceiling_margin,
            max_device_frames: 0,
        };
        t.publish(shared);
        t
    }

    fn publish(&self, shared: &Shared) {
        shared
            .target_frames
            .store(self.target_frames, Ordering::Relaxed);
        shared
            .ceiling_frames
            .store(self.ceiling_frames, Ordering::Relaxed);
    }

    /// Notes a callback of `device_frames`; true if the target rose
    /// (automatic targets follow the largest callback seen). The skip
    /// ceiling sits one callback plus a margin above the target.
    #[inline]
    fn observe(&mut self, device_frames: usize, g: &Geometry, shared: &Shared) -> bool {
        if device_frames <= self.max_device_frames {
            return false;
        }
        self.max_device_frames = device_frames;
        let callback = (device_frames as f64 * g.engine_rate / g.device_rate).ceil() as usize;
        let mut raised = false;
        if let Some(config) = g.auto {
            let buffer = Duration::from_secs_f64(device_frames as f64 / g.device_rate);
            let wanted = ((config.target_latency(buffer).as_secs_f64() * g.engine_rate).round()
                as usize)
                .min(g.max_target);
            if wanted > self.target_frames {
                self.target_frames = wanted;
                raised = true;
            }
        }
        self.ceiling_frames = self
            .ceiling_frames
            .max(self.target_frames + callback + g.ceiling_margin);
        self.publish(shared);
        raised
    }

    fn seconds(&self, g: &Geometry) -> f64 {
        self.target_frames as f64 / g.engine_rate
    }
}

/// Mixes one frame of `src.len()` channels into `dst.len()` channels:
/// equal counts copy; to mono averages; from mono duplicates; otherwise
/// the first channels are copied and extra ones are silent.
#[inline]
fn mix(src: &[f32], dst: &mut [f32]) {
    if src.len() == dst.len() {
        dst.copy_from_slice(src);
    } else if dst.len() == 1 {
        let sum: f32 = src.iter().sum();
        if let Some(d) = dst.first_mut() {
            *d = sum / src.len().max(1) as f32;
        }
    } else if src.len() == 1 {
        let v = src.first().copied().unwrap_or(0.0);
        dst.fill(v);
    } else {
        for (i, d) in dst.iter_mut().enumerate() {
            *d = src.get(i).copied().unwrap_or(0.0);
        }
    }
}

/// One interleaved frame of samples, converted and mixed to the channels
/// of `dst`.
#[inline]
fn mix_from<T: DeviceSample>(src: &[T], dst: &mut [f32]) {
    let mut frame = [0.0f32; MAX_CHANNELS];
    for (f, &s) in frame.iter_mut().zip(src) {
        *f = s.to_f32();
    }
    mix(frame.get(..src.len()).unwrap_or_default(), dst);
}

/// `src` mixed to the channels of one interleaved frame of samples,
/// converted.
#[inline]
fn mix_into<T: DeviceSample>(src: &[f32], dst: &mut [T]) {
    let mut frame = [0.0f32; MAX_CHANNELS];
    let frame = frame.get_mut(..dst.len()).unwrap_or_default();
    mix(src, frame);
    for (d, &v) in dst.iter_mut().zip(frame.iter()) {
        *d = T::from_f32(v);
    }
}

/// Frames of `channels` interleaved samples to one `f32` channel: copies
/// mono, averages several.
#[inline]
fn to_mono<T: DeviceSample>(src: &[T], channels: usize, dst: &mut [f32]) {
    match channels {
        1 => {
            for (d, &s) in dst.iter_mut().zip(src) {
                *d = s.to_f32();
            }
        }
        2 => {
            for (d, s) in dst.iter_mut().zip(src.chunks_exact(2)) {
                if let [l, r] = s {
                    *d = (l.to_f32() + r.to_f32()) * 0.5;
                }
            }
        }
        _ => {
            let scale = 1.0 / channels as f32;
            for (d, s) in dst.iter_mut().zip(src.chunks_exact(channels)) {
                *d = s.iter().map(|&x| x.to_f32()).sum::<f32>() * scale;
            }
        }
    }
}

/// One `f32` channel to frames of `channels` interleaved samples, the same
/// value in every channel.
#[inline]
fn from_mono<T: DeviceSample>(src: &[f32], channels: usize, dst: &mut [T]) {
    match channels {
        1 => {
            for (d, &v) in dst.iter_mut().zip(src) {
                *d = T::from_f32(v);
            }
        }
        2 => {
            for (d, &v) in dst.chunks_exact_mut(2).zip(src) {
                let v = T::from_f32(v);
                if let [l, r] = d {
                    *l = v;
                    *r = v;
                }
            }
        }
        _ => {
            for (d, &v) in dst.chunks_exact_mut(channels).zip(src) {
                d.fill(T::from_f32(v));
            }
        }
    }
}

/// What both directions of a stream are built from: the geometry, the
/// ring's two ends, the shared state and the callback's state that does
/// not depend on the direction (its resampler runs from `from_rate` to
/// `to_rate`). All allocation happens here.
struct ChannelParts {
    geometry: Geometry,
    prod: HeapProd<i16>,
    cons: HeapCons<i16>,
    shared: Arc<Shared>,
    target: TargetTracker,
    resampler: FractionalResampler,
    drift: DriftController,
    /// The callback's local chunk of engine samples.
    chunk: Box<[i16]>,
    /// Delay of the callback's resampling kernel.
    kernel_delay: Duration,
}

impl ChannelParts {
    fn new(
        config: &StreamConfig,
        device: &DeviceFormat,
        from_rate: u32,
        to_rate: u32,
    ) -> Result<Self, AudioError> {
        let (geometry, capacity) = Geometry::new(config, device)?;
        let (prod, cons) = HeapRb::<i16>::new(capacity).split();
        let shared = Arc::new(Shared::default());
        let target = TargetTracker::new(&geometry, &shared);
        let resampler = FractionalResampler::for_rates(geometry.work_channels, from_rate, to_rate);
        Ok(ChannelParts {
            prod,
            cons,
            shared,
            kernel_delay: resampler.delay(from_rate),
            resampler,
            drift: DriftController::new(config.latency.drift, target.seconds(&geometry)),
            target,
            chunk: vec![0; CHUNK_FRAMES * geometry.engine_channels].into_boxed_slice(),
            geometry,
        })
    }
}

/// Creates a playout stream: the media-thread half and the real-time half.
/// All allocation happens here.
pub fn playout_channel(
    config: &StreamConfig,
    device: &DeviceFormat,
) -> Result<(PlayoutStream, PlayoutCallback), AudioError> {
    let p = ChannelParts::new(config, device, config.sample_rate, device.sample_rate)?;
    let g = p.geometry;
    let stream = PlayoutStream {
        half: MediaHalf::new(p.prod, &p.shared, &g, p.kernel_delay),
    };
    let callback = PlayoutCallback {
        cons: p.cons,
        shared: p.shared,
        geometry: g,
        nominal_step: g.engine_rate / g.device_rate,
        chunk: p.chunk,
        chunk_pos: 0,
        chunk_len: 0,
        resampler: p.resampler,
        drift: p.drift,
        target: p.target,
        running: false,
    };
    Ok((stream, callback))
}

/// Creates a capture stream: the media-thread half and the real-time half.
/// All allocation happens here.
pub fn capture_channel(
    config: &StreamConfig,
    device: &DeviceFormat,
) -> Result<(CaptureStream, CaptureCallback), AudioError> {
    let p = ChannelParts::new(config, device, device.sample_rate, config.sample_rate)?;
    let g = p.geometry;
    let stream = CaptureStream {
        half: MediaHalf::new(p.cons, &p.shared, &g, p.kernel_delay),
        primed: false,
    };
    let callback = CaptureCallback {
        prod: p.prod,
        shared: p.shared,
        geometry: g,
        nominal_step: g.device_rate / g.engine_rate,
        chunk: p.chunk,
        chunk_len: 0,
        resampler: p.resampler,
        drift: p.drift,
        target: p.target,
        controlling: false,
    };
    Ok((stream, callback))
}

/// What both media-thread halves hold: their end of the ring (`R`), the
/// state shared with the callback, and the engine format.
struct MediaHalf<R> {
    ring: R,
    shared: Arc<Shared>,
    frame_samples: usize,
    engine_rate: f64,
    engine_channels: usize,
    /// Delay of the callback's resampling kernel.
    kernel_delay: Duration,
}

impl<R: Observer> MediaHalf<R> {
    fn new(ring: R, shared: &Arc<Shared>, g: &Geometry, kernel_delay: Duration) -> Self {
        MediaHalf {
            ring,
            shared: Arc::clone(shared),
            frame_samples: g.frame_samples,
            engine_rate: g.engine_rate,
            engine_channels: g.engine_channels,
            kernel_delay,
        }
    }

    /// A frame buffer of the wrong length is an error.
    fn check_frame(&self, len: usize) -> Result<(), AudioError> {
        if len == self.frame_samples {
            Ok(())
        } else {
            Err(AudioError::FrameLength {
                expected: self.frame_samples,
                actual: len,
            })
        }
    }

    /// `samples` interleaved engine samples as time.
    fn duration(&self, samples: usize) -> Duration {
        Duration::from_secs_f64(
            samples as f64 / self.engine_channels.max(1) as f64 / self.engine_rate,
        )
    }

    /// The target fill in interleaved engine samples.
    fn target_samples(&self) -> usize {
        self.shared.target_frames.load(Ordering::Relaxed) * self.engine_channels
    }

    /// Engine audio in the ring now.
    fn buffered(&self) -> Duration {
        self.duration(self.ring.occupied_len())
    }

    /// The ring's target as time.
    fn target_latency(&self) -> Duration {
        self.duration(self.target_samples())
    }

    /// The target plus the delay of the callback's resampling kernel.
    fn latency(&self) -> Duration {
        self.target_latency() + self.kernel_delay
    }

    /// Resets the `max_fill` watermark.
    fn reset_max_fill(&self) {
        self.shared.max_fill_us.store(0, Ordering::Relaxed);
    }
}

/// Media-thread half of a playout stream: push decoded engine frames.
pub struct PlayoutStream {
    half: MediaHalf<HeapProd<i16>>,
}

impl std::fmt::Debug for PlayoutStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlayoutStream")
            .field("samples_per_frame", &self.half.frame_samples)
            .field("buffered", &self.buffered())
            .finish_non_exhaustive()
    }
}

impl PlayoutStream {
    /// Interleaved samples per frame (what `push_frame` takes).
    pub fn samples_per_frame(&self) -> usize {
        self.half.frame_samples
    }

    /// Queues one engine frame for playout. A frame of the wrong length is
    /// an error; a full ring drops the frame, counts an overrun and returns
    /// [`AudioError::RingFull`]. Never blocks.
    pub fn push_frame(&mut self, frame: &[i16]) -> Result<(), AudioError> {
        self.half.check_frame(frame.len())?;
        if self.half.ring.vacant_len() < frame.len() {
            self.half.shared.count_overrun(frame.len());
            return Err(AudioError::RingFull);
        }
        self.half.ring.push_slice(frame);
        Ok(())
    }

    /// Engine audio queued in the ring now.
    pub fn buffered(&self) -> Duration {
        self.half.buffered()
    }

    /// The ring's target: the audio it holds right after each render
    /// callback, which the drift controller holds on average and which
    /// playout starts at (see [`LatencyConfig::target`](crate::LatencyConfig::target)).
    pub fn target_latency(&self) -> Duration {
        self.half.target_latency()
    }

    /// What the stream adds to the delay of a sample going through it:
    /// [`target_latency`](Self::target_latency) plus the delay of the
    /// callback's resampling kernel (2 engine frames for the cubic drift
    /// kernel at equal rates, half the taps of the sinc kernel otherwise),
    /// from the first callback that plays audio on. The device's own
    /// buffer, and where its callbacks fall between the media thread's
    /// pushes, come on top (see the crate documentation).
    pub fn latency(&self) -> Duration {
        self.half.latency()
    }

    /// True while the ring holds less than the target plus one frame: a
    /// media loop paced by the device (rather than by a timer) pushes
    /// while this is true.
    pub fn wants_frame(&self) -> bool {
        self.half.ring.occupied_len() < self.half.target_samples() + self.half.frame_samples
    }

    /// Counters of this stream.
    pub fn stats(&self) -> StreamStats {
        self.half.shared.stats()
    }

    /// Resets the `max_fill` watermark.
    pub fn reset_max_fill(&self) {
        self.half.reset_max_fill();
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.half.shared
    }
}

/// What `pop_frame` handed out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CaptureStatus {
    /// A captured frame.
    Frame,
    /// Not enough captured audio yet (priming, or after an underrun): the
    /// buffer was filled with silence.
    NotReady,
}

/// Media-thread half of a capture stream: pop captured engine frames.
pub struct CaptureStream {
    half: MediaHalf<HeapCons<i16>>,
    primed: bool,
}

impl std::fmt::Debug for CaptureStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaptureStream")
            .field("samples_per_frame", &self.half.frame_samples)
            .field("buffered", &self.buffered())
            .field("primed", &self.primed)
            .finish_non_exhaustive()
    }
}

impl CaptureStream {
    /// Interleaved samples per frame (what `pop_frame` fills).
    pub fn samples_per_frame(&self) -> usize {
        self.half.frame_samples
    }

    /// Takes one captured engine frame into `out`. Until the ring first
    /// holds more than the target latency (and again after an underrun) it
    /// returns [`CaptureStatus::NotReady`] with `out` silenced. The first
    /// frame after that starts with as much silence as it takes to leave
    /// exactly the target in the ring, so the ring adds its target from
    /// the first frame on. Audio piled up above the latency ceiling (the
    /// media thread stalled) is skipped so that the target is left after
    /// this frame, counted as an overrun. Never blocks.
    pub fn pop_frame(&mut self, out: &mut [i16]) -> Result<CaptureStatus, AudioError> {
        let half = &mut self.half;
        half.check_frame(out.len())?;
        let (frame_samples, ec) = (half.frame_samples, half.engine_channels);
        let target = half.target_samples();
        let ceiling = half.shared.ceiling_frames.load(Ordering::Relaxed) * ec;
        let mut available = half.ring.occupied_len();
        if !self.primed {
            // Capture starts right after the device added audio, at the
            // top of the fill's sawtooth: leave the target less half the
            // sawtooth so that the average fill is the target.
            let callback = half.shared.callback_frames.load(Ordering::Relaxed);
            let frame_frames = frame_samples / ec;
            let start = target.saturating_sub(frame_frames.saturating_sub(callback) / 2 * ec);
            if available <= start || available < ec {
                out.fill(0);
                return Ok(CaptureStatus::NotReady);
            }
            self.primed = true;
            half.shared.consumer_primed.store(true, Ordering::Relaxed);
            if available > start + frame_samples {
                // More arrived at once than this frame takes: skip the
                // oldest, so the start is exact.
                let excess = (available - start - frame_samples) / ec * ec;
                let skipped = half.ring.skip(excess);
                available -= skipped;
                half.shared.count_dropped(skipped);
            }
            let surplus = available - start;
            if surplus < frame_samples {
                // Lead with silence: the ring keeps exactly its target.
                let lead = frame_samples - surplus / ec * ec;
                let (silence, audio) = out.split_at_mut(lead.min(out.len()));
                silence.fill(0);
                let got = half.ring.pop_slice(audio);
                if let Some(rest) = audio.get_mut(got..) {
                    rest.fill(0);
                }
                return Ok(CaptureStatus::Frame);
            }
        }
        if available > ceiling {
            let excess = available - (target + frame_samples).min(available);
            let skipped = half.ring.skip(excess - excess % ec);
            available -= skipped;
            half.shared.count_overrun(skipped);
        }
        if available < frame_samples {
            self.primed = false;
            half.shared.consumer_primed.store(false, Ordering::Relaxed);
            half.shared.count_underrun(out.len());
            out.fill(0);
            return Ok(CaptureStatus::NotReady);
        }
        half.ring.pop_slice(out);
        Ok(CaptureStatus::Frame)
    }

    /// Captured engine audio waiting in the ring now.
    pub fn buffered(&self) -> Duration {
        self.half.buffered()
    }

    /// The ring's target: the audio it holds right after each
    /// `pop_frame` (measured by the callback just before it adds audio),
    /// which the drift controller holds on average and which capture
    /// starts at (see [`LatencyConfig::target`](crate::LatencyConfig::target)).
    pub fn target_latency(&self) -> Duration {
        self.half.target_latency()
    }

    /// What the stream adds to the delay of a sample going through it:
    /// [`target_latency`](Self::target_latency) plus the delay of the
    /// callback's resampling kernel (2 device frames for the cubic drift
    /// kernel at equal rates, half the taps of the sinc kernel otherwise),
    /// from the first frame `pop_frame` hands out. The device's own buffer
    /// comes on top.
    pub fn latency(&self) -> Duration {
        self.half.latency()
    }

    /// True when `pop_frame` would return a frame now.
    pub fn has_frame(&self) -> bool {
        let available = self.half.ring.occupied_len();
        if self.primed {
            available >= self.half.frame_samples
        } else {
            available > self.half.target_samples() && available >= self.half.engine_channels
        }
    }

    /// Counters of this stream.
    pub fn stats(&self) -> StreamStats {
        self.half.shared.stats()
    }

    /// Resets the `max_fill` watermark.
    pub fn reset_max_fill(&self) {
        self.half.reset_max_fill();
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.half.shared
    }
}

/// Real-time half of a playout stream: call [`render`](Self::render) from
/// the device callback. Never allocates, locks, logs or blocks.
pub struct PlayoutCallback {
    cons: HeapCons<i16>,
    shared: Arc<Shared>,
    geometry: Geometry,
    nominal_step: f64,
    /// Engine samples taken from the ring, not yet resampled.
    chunk: Box<[i16]>,
    chunk_pos: usize,
    chunk_len: usize,
    resampler: FractionalResampler,
    drift: DriftController,
    target: TargetTracker,
    /// False while priming (at start and after an underrun).
    running: bool,
}

impl std::fmt::Debug for PlayoutCallback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlayoutCallback")
            .field("running", &self.running)
            .field("correction", &self.drift.correction())
            .finish_non_exhaustive()
    }
}

impl PlayoutCallback {
    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Fills `out` (interleaved, device channels, any length) with audio
    /// from the ring, converted to the device format. Playout starts (at
    /// first, and again after an underrun) in the first callback that
    /// finds more than the target in the ring, with as much leading
    /// silence as it takes to leave exactly the target after it. On
    /// underrun the rest is silence. A trailing partial device frame is
    /// silenced.
    pub fn render<T: DeviceSample>(&mut self, out: &mut [T]) {
        self.shared.callbacks.fetch_add(1, Ordering::Relaxed);
        let g = self.geometry;
        let device_frames = out.len() / g.device_channels;
        self.shared.callback_frames.store(
            (device_frames as f64 * self.nominal_step).round() as usize,
            Ordering::Relaxed,
        );
        if self.target.observe(device_frames, &g, &self.shared) {
            self.drift.set_target(self.target.seconds(&g));
        }
        // Device frames of leading silence in a callback that starts playout.
        let mut lead = 0usize;
        if !self.running {
            let buffered = self.buffered_frames();
            let step = self.nominal_step * (1.0 + self.drift.correction());
            let callback = (device_frames as f64 * step).round() as usize;
            // Playout starts right after a push, at the top of the fill's
            // sawtooth: leave the target plus half the sawtooth so that
            // the average fill is the target from the start.
            let start = self.target.target_frames + g.half_sawtooth(callback);
            if buffered > start && device_frames > 0 {
                self.running = true;
                self.drift.restart();
                if buffered > start + callback {
                    // More arrived at once than this callback plays (a
                    // frame bigger than target + callback): skip the
                    // oldest, so the start is exact.
                    self.skip_frames(buffered - start - callback);
                }
                let surplus = self.buffered_frames().saturating_sub(start);
                let play = (surplus as f64 / step).floor() as usize;
                lead = device_frames.saturating_sub(play);
            }
        }
        let mut rendered = 0usize;
        if self.running {
            let step = self.nominal_step * (1.0 + self.drift.correction());
            self.resampler.set_step(step);
            let consumed = ((device_frames - lead) as f64 * step).ceil() as usize;
            self.discard_above_ceiling(consumed);
            let (silence, audio) = out.split_at_mut((lead * g.device_channels).min(out.len()));
            silence.fill(T::SILENCE);
            rendered = lead
                + if g.work_channels == 1 {
                    self.render_mono(audio)
                } else {
                    self.render_multi(audio)
                };
            if rendered < device_frames {
                self.running = false;
                self.resampler.reset();
                self.shared
                    .count_underrun((device_frames - rendered) * g.device_channels);
            }
        }
        for s in out.iter_mut().skip(rendered * g.device_channels) {
            *s = T::SILENCE;
        }
        let fill = self.buffered_frames() as f64 / g.engine_rate;
        if self.running && device_frames > 0 {
            self.drift
                .update(fill, device_frames as f64 / g.device_rate);
        }
        self.shared.record_fill(fill, self.drift.correction());
    }

    /// Drops the oldest `frames` engine frames (local chunk first, then
    /// the ring), counted as dropped samples.
    fn skip_frames(&mut self, frames: usize) {
        let ec = self.geometry.engine_channels;
        let mut left = frames * ec;
        let in_chunk = self.chunk_len.saturating_sub(self.chunk_pos).min(left);
        self.chunk_pos += in_chunk;
        left -= in_chunk;
        let skipped = in_chunk + if left > 0 { self.cons.skip(left) } else { 0 };
        self.shared.count_dropped(skipped);
    }

    /// Engine sample frames waiting (ring plus the local chunk).
    fn buffered_frames(&self) -> usize {
        (self.cons.occupied_len() + self.chunk_len.saturating_sub(self.chunk_pos))
            / self.geometry.engine_channels
    }

    /// After a burst from the media thread, skip down to what leaves the
    /// target after this callback (which takes `consumed` engine frames)
    /// rather than carry the extra latency for the many seconds the ±2 %
    /// drift correction would need.
    fn discard_above_ceiling(&mut self, consumed: usize) {
        let g = self.geometry;
        let queued = self.cons.occupied_len() / g.engine_channels;
        if queued > self.target.ceiling_frames {
            let keep = self.target.target_frames + consumed;
            let excess = (queued - keep.min(queued)) * g.engine_channels;
            let skipped = self.cons.skip(excess);
            self.shared.count_overrun(skipped);
        }
    }

    /// Renders frames through a one-channel resampler until `out` is full
    /// or the ring runs dry; returns the device frames rendered. Works in
    /// blocks straight from the ring's memory (no copy in between): engine
    /// samples to `f32` (mixed to mono), [`FractionalResampler::process_mono`],
    /// then to the device type and channels; only the engine frames the
    /// resampler used leave the ring.
    fn render_mono<T: DeviceSample>(&mut self, out: &mut [T]) -> usize {
        let g = self.geometry;
        let (ec, dc) = (g.engine_channels, g.device_channels);
        let total = out.len() / dc;
        let mut input = [0.0f32; BLOCK_FRAMES];
        let mut output = [0.0f32; BLOCK_FRAMES];
        let mut rendered = 0;
        while rendered < total {
            let want = (total - rendered).min(BLOCK_FRAMES);
            // Engine frames this block may need: the step's worth, plus
            // one for the kernel's position.
            let need =
                ((want as f64 * self.resampler.step()).ceil() as usize + 1).min(BLOCK_FRAMES);
            let have = {
                let (first, second) = self.cons.as_slices();
                let src = if first.is_empty() { second } else { first };
                let have = (src.len() / ec).min(need);
                let inp = input.get_mut(..have).unwrap_or_default();
                to_mono(src.get(..have * ec).unwrap_or_default(), ec, inp);
                have
            };
            let (consumed, produced) = self.resampler.process_mono(
                input.get(..have).unwrap_or_default(),
                output.get_mut(..want).unwrap_or_default(),
            );
            self.cons.skip(consumed * ec);
            let dst = out
                .get_mut(rendered * dc..(rendered + produced) * dc)
                .unwrap_or_default();
            from_mono(output.get(..produced).unwrap_or_default(), dc, dst);
            rendered += produced;
            if produced == 0 && have == 0 {
                // The resampler wants input and the ring is dry.
                break;
            }
        }
        rendered
    }

    /// Like `render_mono`, for several work channels.
    fn render_multi<T: DeviceSample>(&mut self, out: &mut [T]) -> usize {
        let g = self.geometry;
        let mut work = [0.0f32; MAX_CHANNELS];
        let mut rendered = 0;
        for frame in out.chunks_exact_mut(g.device_channels) {
            while self.resampler.needs_input() {
                if !self.next_input(&mut work) {
                    return rendered;
                }
                self.resampler.push_input(&work);
            }
            let w = work.get_mut(..g.work_channels).unwrap_or_default();
            self.resampler.emit(w);
            mix_into(w, frame);
            rendered += 1;
        }
        rendered
    }

    /// Makes sure the local chunk holds a whole engine frame, refilling it
    /// from the ring (whole frames only); false when the ring is dry.
    #[inline]
    fn ensure_input(&mut self) -> bool {
        let ec = self.geometry.engine_channels;
        if self.chunk_pos + ec <= self.chunk_len {
            return true;
        }
        let whole = self.cons.occupied_len() / ec * ec;
        let n = whole.min(self.chunk.len());
        let Some(dst) = self.chunk.get_mut(..n) else {
            return false;
        };
        self.chunk_len = self.cons.pop_slice(dst);
        self.chunk_pos = 0;
        if self.chunk_len < ec {
            self.chunk_len = 0;
            return false;
        }
        true
    }

    /// Reads one engine frame, mixed to the work channels, into `work`.
    #[inline]
    fn next_input(&mut self, work: &mut [f32; MAX_CHANNELS]) -> bool {
        if !self.ensure_input() {
            return false;
        }
        let ec = self.geometry.engine_channels;
        mix_from(
            self.chunk
                .get(self.chunk_pos..self.chunk_pos + ec)
                .unwrap_or_default(),
            work.get_mut(..self.geometry.work_channels)
                .unwrap_or_default(),
        );
        self.chunk_pos += ec;
        true
    }
}

/// Real-time half of a capture stream: call [`capture`](Self::capture)
/// from the device callback. Never allocates, locks, logs or blocks.
pub struct CaptureCallback {
    prod: HeapProd<i16>,
    shared: Arc<Shared>,
    geometry: Geometry,
    nominal_step: f64,
    /// Converted engine samples not yet pushed to the ring.
    chunk: Box<[i16]>,
    chunk_len: usize,
    resampler: FractionalResampler,
    drift: DriftController,
    target: TargetTracker,
    /// The drift controller runs only while the media side is primed.
    controlling: bool,
}

impl std::fmt::Debug for CaptureCallback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaptureCallback")
            .field("controlling", &self.controlling)
            .field("correction", &self.drift.correction())
            .finish_non_exhaustive()
    }
}

impl CaptureCallback {
    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Takes `input` (interleaved, device channels, any length), converts
    /// it to engine frames and queues them for the media thread. When the
    /// ring is full the excess is dropped (counted as an overrun). A
    /// trailing partial device frame is ignored.
    pub fn capture<T: DeviceSample>(&mut self, input: &[T]) {
        self.shared.callbacks.fetch_add(1, Ordering::Relaxed);
        let g = self.geometry;
        let device_frames = input.len() / g.device_channels;
        self.shared.callback_frames.store(
            (device_frames as f64 / self.nominal_step).round() as usize,
            Ordering::Relaxed,
        );
        if self.target.observe(device_frames, &g, &self.shared) {
            self.drift.set_target(self.target.seconds(&g));
        }
        let primed = self.shared.consumer_primed.load(Ordering::Relaxed);
        if primed != self.controlling {
            self.controlling = primed;
            if primed {
                self.drift.restart();
            }
        }
        self.resampler
            .set_step(self.nominal_step * (1.0 + self.drift.correction()));
        // The fill the controller holds: what the media thread left, before
        // this callback adds to it (mirror of playout, which measures after
        // the device took its buffer).
        let fill = (self.prod.occupied_len() / g.engine_channels) as f64 / g.engine_rate;
        let mut dropped = if g.work_channels == 1 {
            self.capture_mono(input)
        } else {
            self.capture_multi(input)
        };
        dropped += self.flush();
        if dropped > 0 {
            self.shared.count_overrun(dropped);
        }
        if self.controlling && device_frames > 0 {
            self.drift
                .update(fill, device_frames as f64 / g.device_rate);
        }
        self.shared.record_fill(fill, self.drift.correction());
    }

    /// Converts through a one-channel resampler, in blocks (device
    /// samples to `f32` mono, [`FractionalResampler::process_mono`], then
    /// to `i16` engine frames in the local chunk); returns samples dropped.
    fn capture_mono<T: DeviceSample>(&mut self, input: &[T]) -> usize {
        let g = self.geometry;
        let (ec, dc) = (g.engine_channels, g.device_channels);
        let mut mono = [0.0f32; BLOCK_FRAMES];
        let mut output = [0.0f32; BLOCK_FRAMES];
        let mut dropped = 0;
        for block in input.chunks(BLOCK_FRAMES * dc) {
            let n = block.len() / dc;
            let inp = mono.get_mut(..n).unwrap_or_default();
            to_mono(block, dc, inp);
            let mut used = 0;
            loop {
                let mut room = (self.chunk.len() - self.chunk_len) / ec;
                if room == 0 {
                    dropped += self.flush();
                    room = self.chunk.len() / ec;
                }
                let want = room.min(BLOCK_FRAMES);
                let (consumed, produced) = self.resampler.process_mono(
                    inp.get(used..).unwrap_or_default(),
                    output.get_mut(..want).unwrap_or_default(),
                );
                used += consumed;
                let dst = self
                    .chunk
                    .get_mut(self.chunk_len..self.chunk_len + produced * ec)
                    .unwrap_or_default();
                from_mono(output.get(..produced).unwrap_or_default(), ec, dst);
                self.chunk_len += produced * ec;
                if produced < want {
                    // It wants input, and this block is used up.
                    break;
                }
            }
        }
        dropped
    }

    /// Like `capture_mono`, for several work channels.
    fn capture_multi<T: DeviceSample>(&mut self, input: &[T]) -> usize {
        let g = self.geometry;
        let mut work = [0.0f32; MAX_CHANNELS];
        let mut dropped = 0;
        for frame in input.chunks_exact(g.device_channels) {
            let w = work.get_mut(..g.work_channels).unwrap_or_default();
            mix_from(frame, w);
            self.resampler.push_input(w);
            while !self.resampler.needs_input() {
                self.resampler.emit(w);
                if self.chunk_len + g.engine_channels > self.chunk.len() {
                    dropped += self.flush();
                }
                if let Some(dst) = self
                    .chunk
                    .get_mut(self.chunk_len..self.chunk_len + g.engine_channels)
                {
                    mix_into(w, dst);
                    self.chunk_len += g.engine_channels;
                }
            }
        }
        dropped
    }

    /// Pushes the local chunk into the ring (whole engine frames only);
    /// returns the number of samples that did not fit and were dropped.
    fn flush(&mut self) -> usize {
        let ec = self.geometry.engine_channels;
        let room = self.prod.vacant_len() / ec * ec;
        let n = self.chunk_len.min(room);
        let pushed = self
            .prod
            .push_slice(self.chunk.get(..n).unwrap_or_default());
        let dropped = self.chunk_len - pushed;
        self.chunk_len = 0;
        dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::FrameDuration;

    fn engine(rate: u32, channels: u16) -> StreamConfig {
        StreamConfig::new(rate, channels, FrameDuration::Ms10)
    }

    fn device(rate: u32, channels: u16) -> DeviceFormat {
        DeviceFormat {
            sample_rate: rate,
            channels,
            buffer_frames: Some(rate / 100),
        }
    }

    /// Pushes `frames` engine frames of a constant interleaved pattern.
    fn feed(stream: &mut PlayoutStream, pattern: &[i16], frames: usize) {
        let frame: Vec<i16> = pattern
            .iter()
            .copied()
            .cycle()
            .take(stream.samples_per_frame())
            .collect();
        for _ in 0..frames {
            stream.push_frame(&frame).unwrap();
        }
    }

    #[test]
    fn mixing_rules() {
        let mut d = [0.0; 6];
        mix(&[0.5, -0.25], &mut d);
        assert_eq!(d, [0.5, -0.25, 0.0, 0.0, 0.0, 0.0]);
        let mut m = [0.0];
        mix(&[0.5, -0.25], &mut m);
        assert_eq!(m, [0.125]);
        let mut s = [0.0; 2];
        mix(&[0.75], &mut s);
        assert_eq!(s, [0.75, 0.75]);
        let mut two = [0.0; 2];
        mix(&[0.1, 0.2, 0.3, 0.4], &mut two);
        assert_eq!(two, [0.1, 0.2]);
    }

    #[test]
    fn playout_maps_channels_and_keeps_levels() {
        // Stereo engine -> 6-channel device, same rate.
        let (mut stream, mut cb) = playout_channel(&engine(48_000, 2), &device(48_000, 6)).unwrap();
        feed(&mut stream, &[16384, -8192], 10);
        let mut out = vec![0i16; 480 * 6];
        cb.render(&mut out);
        for frame in out.chunks_exact(6).skip(4) {
            assert_eq!(frame, [16384, -8192, 0, 0, 0, 0]);
        }
        // Stereo engine -> mono device at another rate: the average.
        let (mut stream, mut cb) = playout_channel(&engine(16_000, 2), &device(44_100, 1)).unwrap();
        feed(&mut stream, &[16384, -8192], 10);
        let mut out = vec![0.0f32; 441];
        cb.render(&mut out);
        assert!(
            out[140..].iter().all(|&v| (v - 0.125).abs() < 1e-4),
            "{:?}",
            &out[..20]
        );
        // Mono engine -> stereo device, upsampling 8 kHz -> 48 kHz.
        let (mut stream, mut cb) = playout_channel(&engine(8_000, 1), &device(48_000, 2)).unwrap();
        feed(&mut stream, &[-16384], 10);
        let before = stream.buffered();
        let mut out = vec![0.0f32; 480 * 2];
        cb.render(&mut out);
        assert!(out[2 * 300..].iter().all(|&v| (v + 0.5).abs() < 1e-4));
        // 480 device frames at 48 kHz consume 10 ms of engine audio.
        let consumed = before - stream.buffered();
        assert!(consumed >= Duration::from_millis(9), "{consumed:?}");
    }

    #[test]
    fn playout_primes_underruns_and_overruns() {
        // Drift correction off, so the step stays exactly 1 and every
        // figure is exact to the frame.
        let mut config = engine(48_000, 1);
        config.latency.drift.max_correction = 0.0;
        let (mut stream, mut cb) = playout_channel(&config, &device(48_000, 1)).unwrap();
        let target = stream.target_latency();
        // 10 ms frames on 10 ms callbacks: no sawtooth, 10 ms buffer + 5 ms.
        assert_eq!(target, Duration::from_millis(15));
        // The cubic drift kernel delays by two engine frames.
        assert_eq!(
            stream.latency(),
            target + Duration::from_nanos(2 * 1_000_000_000 / 48_000)
        );
        let mut out = vec![7i16; 480];
        // Empty ring: priming silence, not an underrun.
        cb.render(&mut out);
        assert!(out.iter().all(|&s| s == 0));
        assert_eq!(stream.stats().underruns, 0);
        feed(&mut stream, &[1000], 1); // 10 ms: not more than the target
        cb.render(&mut out);
        assert!(out.iter().all(|&s| s == 0));
        feed(&mut stream, &[1000], 1); // 20 ms: starts, 5 ms of it now
        cb.render(&mut out);
        // Leading silence, then audio (after the kernel's two frames),
        // and exactly the target left.
        assert!(
            out[..240 + 2].iter().all(|&s| s == 0),
            "{:?}",
            &out[230..250]
        );
        assert!(out[240 + 2..].iter().all(|&s| s == 1000));
        assert_eq!(stream.buffered(), target);
        assert_eq!(stream.stats().fill, target);
        for _ in 0..2 {
            cb.render(&mut out); // the ring runs dry after 15 ms
        }
        let stats = stream.stats();
        assert_eq!(stats.underruns, 1, "{stats:?}");
        assert!(stats.silence_samples > 0);
        assert_eq!(*out.last().unwrap(), 0);
        // More than target + one callback at once: the start skips the
        // oldest so it is exact all the same.
        feed(&mut stream, &[2000], 4);
        cb.render(&mut out);
        assert!(out[2..].iter().all(|&s| s == 2000));
        assert_eq!(stream.buffered(), target);
        assert_eq!(stream.stats().dropped_samples, 40 * 48 - 480 - 15 * 48);
        // Fill the ring: the frame that does not fit is refused and counted.
        let mut refused = 0;
        for _ in 0..100 {
            if let Err(AudioError::RingFull) = stream.push_frame(&[5; 480]) {
                refused += 1;
            }
        }
        assert!(refused > 0);
        assert_eq!(stream.stats().overruns, refused);
        // Far above the ceiling while playing: the callback skips down so
        // that the target is left after it.
        cb.render(&mut out);
        assert!(stream.stats().overruns > refused);
        assert_eq!(stream.buffered(), target);
        // Wrong frame length is an error, not a panic.
        assert!(matches!(
            stream.push_frame(&[0; 3]),
            Err(AudioError::FrameLength { .. })
        ));
    }

    #[test]
    fn playout_silences_a_trailing_partial_frame() {
        let (mut stream, mut cb) = playout_channel(&engine(48_000, 1), &device(48_000, 2)).unwrap();
        feed(&mut stream, &[3000], 5);
        let mut out = vec![9i16; 2 * 100 + 1];
        cb.render(&mut out);
        assert_eq!(out[200], 0);
        assert_eq!(out[198], 3000);
        let mut tiny = [9i16; 1];
        cb.render(&mut tiny);
        assert_eq!(tiny, [0]);
    }

    #[test]
    fn capture_maps_channels_and_primes() {
        // Stereo device -> mono engine: the average.
        let (mut stream, mut cb) = capture_channel(&engine(48_000, 1), &device(44_100, 2)).unwrap();
        let input: Vec<f32> = [0.5f32, -0.25]
            .iter()
            .copied()
            .cycle()
            .take(441 * 2)
            .collect();
        let mut frame = vec![0i16; 480];
        cb.capture(&input);
        assert_eq!(
            stream.pop_frame(&mut frame).unwrap(),
            CaptureStatus::NotReady
        );
        for _ in 0..3 {
            cb.capture(&input);
        }
        assert_eq!(stream.pop_frame(&mut frame).unwrap(), CaptureStatus::Frame);
        assert!(
            frame[60..]
                .iter()
                .all(|&s| (i32::from(s) - 4096).abs() <= 2),
            "{:?}",
            &frame[..12]
        );
        // Mono device -> stereo engine: duplicated.
        let (mut stream, mut cb) = capture_channel(&engine(16_000, 2), &device(16_000, 1)).unwrap();
        let input = vec![-8192i16; 160];
        for _ in 0..4 {
            cb.capture(&input);
        }
        let mut frame = vec![0i16; 320];
        assert_eq!(stream.pop_frame(&mut frame).unwrap(), CaptureStatus::Frame);
        assert!(frame[8..].iter().all(|&s| s == -8192));
        // Popping faster than the device captures: an underrun, then
        // re-priming.
        let mut status = CaptureStatus::Frame;
        for _ in 0..5 {
            status = stream.pop_frame(&mut frame).unwrap();
        }
        assert_eq!(status, CaptureStatus::NotReady);
        assert_eq!(stream.stats().underruns, 1);
        assert!(frame.iter().all(|&s| s == 0));
        assert!(!stream.has_frame());
    }

    #[test]
    fn capture_overrun_drops_and_stale_audio_is_skipped() {
        let (mut stream, mut cb) = capture_channel(&engine(8_000, 1), &device(8_000, 1)).unwrap();
        let input = vec![100i16; 80];
        for _ in 0..100 {
            cb.capture(&input); // nobody reads: 1 s into a 200 ms ring
        }
        let stats = stream.stats();
        assert!(stats.overruns > 0 && stats.dropped_samples > 0, "{stats:?}");
        let mut frame = vec![0i16; 80];
        assert_eq!(stream.pop_frame(&mut frame).unwrap(), CaptureStatus::Frame);
        // The 200 ms of stale audio were cut down to the target.
        assert!(stream.buffered() <= stream.target_latency());
    }
}
