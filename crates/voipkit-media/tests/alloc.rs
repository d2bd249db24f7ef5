//! The per-packet paths allocate nothing of ours in steady state: a
//! counting global allocator watches the send and receive paths of plain
//! RTP (zero allocations) and SRTP (only webrtc-srtp's own output buffer).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use voipkit_media::{
    ChaCha20Rng, CryptoSuite, MediaSession, MediaSessionConfig, SeedableRng, SrtpKeyingMaterial,
    SrtpParameters,
};

struct Counting;
static ALLOCS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// Only the test's own thread counts (the test harness's threads
    /// allocate now and then too, and made the count flaky under load).
    static COUNTED: Cell<bool> = const { Cell::new(false) };
}

fn count() {
    if COUNTED.with(Cell::get) {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
    }
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        count();
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        count();
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations per packet over `n` packets sent by A and received by B,
/// after a warm-up, with buffers recycled as the driver would.
fn per_packet(srtp: bool, n: u32) -> (f64, f64) {
    let a = "127.0.0.1:40000".parse().unwrap();
    let b = "127.0.0.1:40002".parse().unwrap();
    let now = Instant::now();
    let mut rng = ChaCha20Rng::seed_from_u64(3);
    let ka = SrtpKeyingMaterial::generate(CryptoSuite::AesCm128HmacSha1_80, &mut rng);
    let kb = SrtpKeyingMaterial::generate(CryptoSuite::AesCm128HmacSha1_80, &mut rng);
    let mut ca = MediaSessionConfig::new(b, 0, 8000);
    let mut cb = MediaSessionConfig::new(a, 0, 8000);
    if srtp {
        let keys = SrtpParameters {
            local: ka,
            remote: kb,
        };
        cb.srtp = Some(keys.reversed());
        ca.srtp = Some(keys);
    }
    ca.keep_alive = None;
    let mut sa = MediaSession::new(ca, ChaCha20Rng::seed_from_u64(1), now).unwrap();
    let mut sb = MediaSession::new(cb, ChaCha20Rng::seed_from_u64(2), now).unwrap();
    let frame = [0xd5u8; 160];
    let mut t = now;
    let (mut send_allocs, mut recv_allocs) = (0, 0);
    for i in 0..(n + 50) {
        t += Duration::from_millis(1); // stay clear of RTCP timers
        let before = ALLOCS.load(Ordering::Relaxed);
        sa.send_audio(t, &frame, 160).unwrap();
        let tx = sa.poll_transmit().unwrap();
        let mid = ALLOCS.load(Ordering::Relaxed);
        sb.handle_input(t, a, &tx.contents);
        let p = sb.poll_rtp().unwrap();
        sb.recycle(p.payload);
        let after = ALLOCS.load(Ordering::Relaxed);
        sa.recycle(tx.contents);
        if i >= 50 {
            send_allocs += mid - before;
            recv_allocs += after - mid;
        }
    }
    (
        send_allocs as f64 / f64::from(n),
        recv_allocs as f64 / f64::from(n),
    )
}

#[test]
fn steady_state_allocations_per_packet() {
    COUNTED.with(|c| c.set(true));
    let (send, recv) = per_packet(false, 1000);
    println!("plain RTP: {send} allocs/packet sending, {recv} receiving");
    assert_eq!(send, 0.0);
    assert_eq!(recv, 0.0);
    let (send, recv) = per_packet(true, 1000);
    println!("SRTP: {send} allocs/packet sending, {recv} receiving");
    // webrtc-srtp builds its output in a fresh buffer (one allocation each
    // way); everything of ours is reused.
    assert!(send <= 1.0, "{send}");
    assert!(recv <= 1.0, "{recv}");
}
