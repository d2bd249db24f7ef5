//! The cpal backend on this kind of machine (feature `cpal`): the default
//! device of a headless box fails with a clear error; ALSA's `null` device
//! opens, runs our callbacks and plays.
#![cfg(feature = "cpal")]

use std::time::{Duration, Instant};

use voipkit_audio::{
    AudioDevice, AudioError, CpalDevice, FrameDuration, StreamConfig, cpal_devices,
};

fn engine() -> StreamConfig {
    StreamConfig::new(48_000, 1, FrameDuration::Ms20)
}

fn has_sound_card() -> bool {
    std::path::Path::new("/proc/asound/cards").exists()
        && std::fs::read_to_string("/proc/asound/cards")
            .map(|s| !s.contains("no soundcards"))
            .unwrap_or(false)
}

#[test]
fn default_device_without_sound_card_is_a_clear_error() {
    let result = CpalDevice::default_device().and_then(|mut dev| dev.open_output(&engine()));
    match result {
        Ok(_) => assert!(has_sound_card(), "opened a default device without a card?"),
        Err(e) => {
            eprintln!("default device: {e}");
            assert!(
                matches!(e, AudioError::DeviceNotAvailable { .. }),
                "unclear error: {e:?}"
            );
        }
    }
    let result = CpalDevice::default_device().and_then(|mut dev| dev.open_input(&engine()));
    if let Err(e) = result {
        assert!(matches!(e, AudioError::DeviceNotAvailable { .. }), "{e:?}");
    }
}

#[test]
fn unknown_device_is_a_clear_error() {
    assert!(matches!(
        CpalDevice::by_id("no-such-device-xyz"),
        Err(AudioError::DeviceNotAvailable { .. })
    ));
}

#[test]
fn null_device_is_listed_opens_and_plays() {
    let devices = cpal_devices().unwrap();
    assert!(devices.iter().any(|d| d.id.ends_with(":null") && d.output));
    let mut dev = CpalDevice::by_id("null").unwrap();
    let mut playout = dev.open_output(&engine()).unwrap();
    let mut capture = dev.open_input(&engine()).unwrap();
    assert!(matches!(
        dev.open_output(&engine()),
        Err(AudioError::AlreadyOpen { .. })
    ));
    dev.start().unwrap();
    let frame = vec![1000i16; playout.samples_per_frame()];
    let mut got = vec![0i16; capture.samples_per_frame()];
    let deadline = Instant::now() + Duration::from_secs(5);
    while (playout.stats().callbacks < 5 || capture.stats().callbacks < 5)
        && Instant::now() < deadline
    {
        while playout.wants_frame() {
            playout.push_frame(&frame).unwrap();
        }
        let _ = capture.pop_frame(&mut got);
        std::thread::sleep(Duration::from_millis(5));
    }
    let (p, c) = (playout.stats(), capture.stats());
    eprintln!("null device: playout {p:?}, capture {c:?}");
    assert!(p.callbacks >= 5, "{p:?}");
    assert!(c.callbacks >= 5, "{c:?}");
    dev.stop().unwrap();
    assert!(!dev.is_running());
    let during_stop = playout.stats().callbacks;
    dev.start().unwrap();
    dev.stop().unwrap();
    assert!(playout.stats().callbacks >= during_stop);
    while let Some(e) = dev.poll_event() {
        eprintln!("event: {e:?}");
    }
}
