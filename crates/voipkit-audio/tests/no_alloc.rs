//! Proves the real-time side never allocates (nor frees).
//!
//! A counting global allocator counts every alloc/realloc/dealloc made on
//! a thread whose thread-local "in real-time section" flag is set. The flag
//! is set around each callback: by the test itself when it drives
//! `PlayoutCallback::render` / `CaptureCallback::capture` directly, and by
//! the device driver's `RealtimeHook` inside the loopback device's own
//! thread. Over thousands of callbacks (400 per format and direction,
//! plus the device threads') with odd buffer sizes (1, 7, 333,
//! 441, 1023, 4096 frames, and a partial trailing frame), several device
//! formats and sample types, forced underruns (the media thread stops
//! feeding) and overruns (it bursts, or stops reading), the count must be
//! exactly zero.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::write_wav;
use voipkit_audio::{
    AudioDevice, CaptureStatus, DeviceFormat, DeviceSample, FrameDuration, LoopbackConfig,
    LoopbackDevice, Pacing, RealtimeSection, StreamConfig, capture_channel, playout_channel,
};

/// 0: not audited; 1: real-time section (must not allocate); 2: the
/// allocator self-check.
const AUDIT: u8 = 1;
const SELF_CHECK: u8 = 2;

thread_local! {
    static MODE: Cell<u8> = const { Cell::new(0) };
}

static RT_ALLOCATIONS: AtomicU64 = AtomicU64::new(0);
static SELF_CHECK_ALLOCATIONS: AtomicU64 = AtomicU64::new(0);
static HOOK_ENTRIES: AtomicU64 = AtomicU64::new(0);

struct CountingAllocator;

fn note() {
    match MODE.try_with(Cell::get).unwrap_or(0) {
        AUDIT => {
            RT_ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        SELF_CHECK => {
            SELF_CHECK_ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        _ => {}
    }
}

unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note();
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note();
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// The hook the device drivers call around their real-time section.
fn audit_hook(section: RealtimeSection) {
    match section {
        RealtimeSection::Enter => {
            HOOK_ENTRIES.fetch_add(1, Ordering::Relaxed);
            MODE.with(|m| m.set(AUDIT));
        }
        RealtimeSection::Exit => MODE.with(|m| m.set(0)),
    }
}

/// Runs `f` with the audit flag set on this thread.
fn audited<R>(f: impl FnOnce() -> R) -> R {
    MODE.with(|m| m.set(AUDIT));
    let r = f();
    MODE.with(|m| m.set(0));
    r
}

/// Buffer sizes in interleaved samples: odd frame counts and, for
/// multi-channel devices, a trailing partial frame.
fn buffer_lengths(channels: usize) -> Vec<usize> {
    let frames = [1usize, 7, 441, 333, 1023, 4096, 480, 0, 129];
    let mut v: Vec<usize> = frames.iter().map(|f| f * channels).collect();
    v.push(441 * channels + channels.saturating_sub(1));
    v
}

#[test]
fn the_allocator_counts() {
    MODE.with(|m| m.set(SELF_CHECK));
    let v: Vec<u8> = Vec::with_capacity(64);
    drop(std::hint::black_box(v));
    MODE.with(|m| m.set(0));
    assert!(SELF_CHECK_ALLOCATIONS.load(Ordering::Relaxed) >= 2);
}

fn playout_case<T: DeviceSample + Default>(engine: StreamConfig, device: DeviceFormat) {
    let (mut stream, mut callback) = playout_channel(&engine, &device).unwrap();
    let lengths = buffer_lengths(usize::from(device.channels));
    let max = *lengths.iter().max().unwrap();
    let mut out = vec![T::default(); max];
    let frame: Vec<i16> = (0..stream.samples_per_frame())
        .map(|i| ((i as f32 * 0.05).sin() * 8000.0) as i16)
        .collect();
    for round in 0..400usize {
        // Media thread: normal feeding, then a starvation phase
        // (underruns), then a burst (ring full: overruns; above the
        // ceiling: the callback skips).
        let phase = round % 100;
        let pushes = match phase {
            0..=49 => 1 + round % 2,
            50..=69 => 0,
            _ => 4,
        };
        for _ in 0..pushes {
            let _ = stream.push_frame(&frame);
        }
        let len = lengths[round % lengths.len()];
        audited(|| callback.render(&mut out[..len]));
    }
    let stats = stream.stats();
    assert!(stats.underruns > 0, "{stats:?}");
    assert!(stats.overruns > 0, "{stats:?}");
    assert_eq!(
        RT_ALLOCATIONS.load(Ordering::Relaxed),
        0,
        "{engine:?} {device:?}"
    );
}

fn capture_case<T: DeviceSample + Default>(engine: StreamConfig, device: DeviceFormat, level: T) {
    let (mut stream, mut callback) = capture_channel(&engine, &device).unwrap();
    let lengths = buffer_lengths(usize::from(device.channels));
    let max = *lengths.iter().max().unwrap();
    let input = vec![level; max];
    let mut frame = vec![0i16; stream.samples_per_frame()];
    let mut got_frames = 0;
    for round in 0..400usize {
        let len = lengths[round % lengths.len()];
        audited(|| callback.capture(&input[..len]));
        // Media thread: normal reading, then a stall (ring fills: the
        // callback drops), then reading too fast (underruns).
        let pops = match round % 100 {
            0..=49 => 2,
            50..=79 => 0,
            _ => 6,
        };
        for _ in 0..pops {
            if stream.pop_frame(&mut frame).unwrap() == CaptureStatus::Frame {
                got_frames += 1;
            }
        }
    }
    let stats = stream.stats();
    assert!(got_frames > 50, "{stats:?}");
    assert!(stats.underruns > 0, "{stats:?}");
    assert!(stats.overruns > 0, "{stats:?}");
    assert_eq!(
        RT_ALLOCATIONS.load(Ordering::Relaxed),
        0,
        "{engine:?} {device:?}"
    );
}

fn engine(rate: u32, channels: u16, duration: FrameDuration) -> StreamConfig {
    StreamConfig::new(rate, channels, duration)
}

fn device(rate: u32, channels: u16) -> DeviceFormat {
    DeviceFormat {
        sample_rate: rate,
        channels,
        buffer_frames: Some(441),
    }
}

#[test]
fn playout_callback_never_allocates() {
    let ms20 = FrameDuration::Ms20;
    let ms10 = FrameDuration::Ms10;
    playout_case::<f32>(engine(48_000, 1, ms20), device(44_100, 2));
    playout_case::<i16>(engine(8_000, 1, ms20), device(8_000, 1));
    playout_case::<i16>(engine(16_000, 2, ms10), device(48_000, 1));
    playout_case::<i32>(engine(48_000, 2, ms10), device(96_000, 6));
    playout_case::<u16>(engine(44_100, 1, ms20), device(22_050, 3));
}

#[test]
fn capture_callback_never_allocates() {
    let ms20 = FrameDuration::Ms20;
    let ms10 = FrameDuration::Ms10;
    capture_case::<f32>(engine(48_000, 1, ms20), device(44_100, 2), 0.25);
    capture_case::<i16>(engine(8_000, 1, ms20), device(8_000, 1), 1000);
    capture_case::<i16>(engine(16_000, 2, ms10), device(48_000, 1), -1000);
    capture_case::<i32>(engine(48_000, 2, ms10), device(96_000, 6), 1 << 20);
    capture_case::<u16>(engine(44_100, 1, ms20), device(22_050, 3), 40_000);
}

/// The loopback device's own thread, paced in real time with uneven 2 ms
/// callbacks, the hook marking its real-time section, while this thread
/// feeds and drains irregularly for 300 ms.
#[test]
fn loopback_device_thread_never_allocates() {
    let mut config = LoopbackConfig::new(DeviceFormat {
        sample_rate: 44_100,
        channels: 2,
        buffer_frames: Some(97),
    });
    config.vary_buffer = true;
    config.clock_skew = 0.01;
    config.pacing = Pacing::RealTime;
    let mut dev = LoopbackDevice::new(config).unwrap();
    dev.set_realtime_hook(Some(audit_hook));
    let engine = engine(48_000, 1, FrameDuration::Ms10);
    let mut playout = dev.open_output(&engine).unwrap();
    let mut capture = dev.open_input(&engine).unwrap();
    let entries_before = HOOK_ENTRIES.load(Ordering::Relaxed);
    dev.start().unwrap();
    let frame = vec![1000i16; playout.samples_per_frame()];
    let mut got = vec![0i16; capture.samples_per_frame()];
    let start = Instant::now();
    let mut step = 0u32;
    while start.elapsed() < Duration::from_millis(300) {
        step += 1;
        match step % 30 {
            // Normal.
            0..=14 => {
                let _ = playout.push_frame(&frame);
                let _ = capture.pop_frame(&mut got);
            }
            // Starve playout, stall capture.
            15..=24 => {}
            // Burst.
            _ => {
                for _ in 0..6 {
                    let _ = playout.push_frame(&frame);
                    let _ = capture.pop_frame(&mut got);
                }
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    dev.stop().unwrap();
    let entries = HOOK_ENTRIES.load(Ordering::Relaxed) - entries_before;
    assert!(entries > 50, "only {entries} device periods ran");
    assert!(playout.stats().callbacks > 50);
    assert_eq!(RT_ALLOCATIONS.load(Ordering::Relaxed), 0);
}

/// The WAV device's thread: file reads and writes happen outside the
/// real-time section; the section itself (our callbacks) must not allocate.
#[test]
fn wav_device_thread_never_allocates_in_its_realtime_section() {
    let dir = std::env::temp_dir();
    let mic = dir.join(format!(
        "voipkit-audio-noalloc-{}-mic.wav",
        std::process::id()
    ));
    let speaker = dir.join(format!(
        "voipkit-audio-noalloc-{}-spk.wav",
        std::process::id()
    ));
    write_wav(&mic, 2, 44_100, (0..44_100).map(|i| (i % 2000) as i16));
    let mut dev = voipkit_audio::WavDevice::new(Pacing::RealTime)
        .with_input(&mic, true)
        .unwrap()
        .with_output(&speaker, Some((22_050, 1)))
        .unwrap();
    dev.set_realtime_hook(Some(audit_hook));
    let engine = engine(16_000, 1, FrameDuration::Ms20);
    let mut capture = dev.open_input(&engine).unwrap();
    let mut playout = dev.open_output(&engine).unwrap();
    dev.start().unwrap();
    let mut frame = vec![0i16; capture.samples_per_frame()];
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(150) {
        let _ = capture.pop_frame(&mut frame);
        let _ = playout.push_frame(&frame);
        std::thread::sleep(Duration::from_millis(10));
    }
    dev.finalize().unwrap();
    assert!(capture.stats().callbacks > 5);
    assert_eq!(RT_ALLOCATIONS.load(Ordering::Relaxed), 0);
    let _ = std::fs::remove_file(&mic);
    let _ = std::fs::remove_file(&speaker);
}

/// cpal's callbacks on ALSA's `null` device (feature `cpal`), with the
/// hook marking our part of cpal's data callback.
#[cfg(feature = "cpal")]
#[test]
fn cpal_null_device_callbacks_never_allocate() {
    let mut dev = voipkit_audio::CpalDevice::by_id("null").unwrap();
    dev.set_realtime_hook(Some(audit_hook));
    let engine = engine(48_000, 1, FrameDuration::Ms20);
    let mut playout = dev.open_output(&engine).unwrap();
    let mut capture = dev.open_input(&engine).unwrap();
    dev.start().unwrap();
    let frame = vec![1000i16; playout.samples_per_frame()];
    let mut got = vec![0i16; capture.samples_per_frame()];
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(100) {
        let _ = playout.push_frame(&frame);
        let _ = capture.pop_frame(&mut got);
        std::thread::sleep(Duration::from_millis(2));
    }
    dev.stop().unwrap();
    assert!(playout.stats().callbacks > 10);
    assert!(capture.stats().callbacks > 10);
    assert_eq!(RT_ALLOCATIONS.load(Ordering::Relaxed), 0);
}
