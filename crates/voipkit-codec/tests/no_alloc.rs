//! Per-frame work allocates nothing (in Rust; libopus uses its own stack
//! allocation): encode, decode, conceal, resample, and jitter-buffer insert
//! and playout once the buffer is warm.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use voipkit_codec::{
    Decoder, Encoder, G711Decoder, G711Encoder, G711Law, IncomingPacket, JitterBuffer,
    JitterBufferConfig, OpusDecoder, OpusEncoder, OpusEncoderConfig, Resampler,
};

struct Counting;

static ALLOCS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// Only the test's own thread counts: the test harness's threads
    /// allocate now and then too, which made the count flaky under load.
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn count<R>(f: impl FnOnce() -> R) -> (R, usize) {
    ALLOCS.store(0, Ordering::SeqCst);
    COUNTING.with(|c| c.set(true));
    let r = f();
    COUNTING.with(|c| c.set(false));
    (r, ALLOCS.load(Ordering::SeqCst))
}

fn tone(rate: u32, n: usize, offset: usize) -> Vec<i16> {
    (0..n)
        .map(|i| {
            let t = (i + offset) as f64 / f64::from(rate);
            (6000.0
                * (2.0 * std::f64::consts::PI * 150.0 * t).sin()
                * (0.4 + 0.6 * (9.0 * t).sin().abs())) as i16
        })
        .collect()
}

/// One test, so that nothing else runs (and allocates) while counting.
#[test]
fn steady_state_frames_do_not_allocate() {
    // Codecs.
    let mut opus = OpusEncoder::new(&OpusEncoderConfig::default()).unwrap();
    let mut opus_dec = OpusDecoder::new(1).unwrap();
    let mut g711 = G711Encoder::new(G711Law::A, Duration::from_millis(20)).unwrap();
    let mut g711_dec = G711Decoder::new(G711Law::A);
    let pcm48 = tone(48_000, 960, 0);
    let pcm8 = tone(8000, 160, 0);
    let mut pkt = [0u8; 1500];
    let mut out48 = [0i16; 960];
    let mut out8 = [0i16; 160];
    let (n, allocs) = count(|| {
        let n = opus.encode(&pcm48, &mut pkt).unwrap();
        opus_dec.decode(&pkt[..n], &mut out48).unwrap();
        opus_dec.conceal(&mut out48).unwrap();
        opus_dec.decode_fec(&pkt[..n], &mut out48).unwrap();
        g711.encode(&pcm8, &mut pkt).unwrap();
        g711_dec.decode(&pkt[..160], &mut out8).unwrap();
        g711_dec.conceal(&mut out8).unwrap();
        n
    });
    assert!(n > 0);
    assert_eq!(allocs, 0, "codecs allocated");

    // Resampler.
    let mut rs = Resampler::new(44_100, 48_000, 1).unwrap();
    let input = tone(44_100, 441, 0);
    let mut out = [0i16; 482];
    let (_, allocs) = count(|| {
        for _ in 0..10 {
            rs.process(&input, &mut out).unwrap();
        }
    });
    assert_eq!(allocs, 0, "resampler allocated");

    // Jitter buffer: warm up (payload buffers of every slot grow once),
    // then count over 20 s of jittery arrivals with losses, spikes,
    // pauses (hold) and DTMF sequence numbers.
    let mut jb =
        JitterBuffer::new(OpusDecoder::new(1).unwrap(), JitterBufferConfig::default()).unwrap();
    let mut enc = OpusEncoder::new(&OpusEncoderConfig::default()).unwrap();
    let packets: Vec<Vec<u8>> = (0..100)
        .map(|i| {
            let n = enc.encode(&tone(48_000, 960, i * 960), &mut pkt).unwrap();
            pkt[..n].to_vec()
        })
        .collect();
    let t0 = Instant::now();
    let mut frame = [0i16; 960];
    let mut step = |i: usize, jb: &mut JitterBuffer<OpusDecoder>| {
        let t = t0 + Duration::from_millis(20 * i as u64);
        let jitter = Duration::from_micros((i as u64 * 7919) % 15_000);
        let spike = if i % 500 > 480 {
            Duration::from_millis(120)
        } else {
            Duration::ZERO
        };
        // Every 400 packets (8 s): a DTMF digit (eight sequence numbers
        // without audio), 1 s of hold (packets 250..300 not sent; the
        // engine says so a little before and that it is over as media
        // comes again), and a 2 s pause the buffer detects itself
        // (packets 320..420 not sent).
        let phase = i % 400;
        if phase == 245 {
            jb.set_active(false);
        }
        if phase == 300 {
            jb.set_active(true);
        }
        let held = (250..300).contains(&phase) || (320..400).contains(&phase) || phase < 20;
        let dtmf = (200..208).contains(&phase);
        if dtmf {
            jb.insert_non_audio(
                t,
                &IncomingPacket {
                    ssrc: 9,
                    sequence_number: i as u16,
                    timestamp: 200 * 960,
                    marker: false,
                    payload: &[1, 10, 0, 160],
                },
            );
        } else if i % 37 != 5 && !held {
            jb.insert(
                t + jitter + spike,
                &IncomingPacket {
                    ssrc: 9,
                    sequence_number: i as u16,
                    timestamp: (i * 960) as u32,
                    marker: false,
                    payload: &packets[i % packets.len()],
                },
            );
        }
        jb.get_frame(t + Duration::from_millis(10), &mut frame)
            .unwrap();
    };
    for i in 0..2000 {
        step(i, &mut jb);
    }
    let (_, allocs) = count(|| {
        for i in 2000..3000 {
            step(i, &mut jb);
        }
    });
    assert_eq!(allocs, 0, "jitter buffer allocated");
    let st = jb.stats();
    assert!(st.samples_concealed > 0);
    assert!(st.samples_paused > 0 && st.pauses >= 2, "{st:?}");
    assert!(st.packets_non_audio >= 16, "{st:?}");
}
