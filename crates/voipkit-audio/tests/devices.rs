//! The software devices: lifecycle, errors, events, WAV in/out.

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::{Sine, purity_db, write_wav};
use voipkit_audio::{
    AudioDevice, AudioError, CaptureStatus, DeviceEvent, DeviceFormat, Direction, FrameDuration,
    LoopbackConfig, LoopbackDevice, NullDevice, Pacing, StreamConfig, WavDevice,
};

fn engine() -> StreamConfig {
    StreamConfig::new(48_000, 1, FrameDuration::Ms20)
}

fn temp_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("voipkit-audio-{}-{name}", std::process::id()))
}

#[test]
fn null_device_lifecycle_and_errors() {
    let mut dev = NullDevice::new(None, Pacing::Manual).unwrap();
    assert!(matches!(dev.start(), Err(AudioError::NoStream)));
    assert!(matches!(dev.tick(), Err(AudioError::NotRunning)));
    let mut playout = dev.open_output(&engine()).unwrap();
    let mut capture = dev.open_input(&engine()).unwrap();
    assert!(matches!(
        dev.open_output(&engine()),
        Err(AudioError::AlreadyOpen {
            direction: Direction::Output
        })
    ));
    assert!(matches!(
        playout.push_frame(&[0; 10]),
        Err(AudioError::FrameLength {
            expected: 960,
            actual: 10
        })
    ));
    dev.start().unwrap();
    assert!(dev.is_running());
    assert!(matches!(dev.start(), Err(AudioError::Running)));
    assert!(matches!(
        dev.open_input(&engine()),
        Err(AudioError::Running)
    ));
    let frame = vec![1234i16; 960];
    let mut got = vec![1i16; 960];
    let mut frames = 0;
    let mut virtual_time = Duration::ZERO;
    for _ in 0..100 {
        virtual_time += dev.tick().unwrap();
        if virtual_time >= Duration::from_millis(20) * (frames + 1) {
            playout.push_frame(&frame).unwrap();
            if capture.pop_frame(&mut got).unwrap() == CaptureStatus::Frame {
                assert!(got.iter().all(|&s| s == 0), "null captures silence");
            }
            frames += 1;
        }
    }
    assert_eq!(virtual_time, Duration::from_secs(1));
    assert!(playout.stats().callbacks == 100);
    assert_eq!(playout.stats().underruns, 0);
    dev.stop().unwrap();
    assert!(!dev.is_running());
    dev.start().unwrap();
    dev.tick().unwrap();
    assert!(dev.poll_event().is_none());
}

#[test]
fn bad_configs_are_refused() {
    let mut dev = NullDevice::new(None, Pacing::Manual).unwrap();
    let bad = StreamConfig::new(44_000 + 50, 1, FrameDuration::Ms10);
    assert!(matches!(
        dev.open_output(&bad),
        Err(AudioError::UnsupportedConfig { .. })
    ));
    assert!(NullDevice::new(Some(DeviceFormat::new(48_000, 0)), Pacing::Manual).is_err());
    let mut config = LoopbackConfig::new(DeviceFormat::new(48_000, 2));
    config.clock_skew = 0.5;
    assert!(LoopbackDevice::new(config).is_err());
}

#[test]
fn loopback_unplugged_mid_call_reports_device_lost() {
    let mut config = LoopbackConfig::new(DeviceFormat::new(48_000, 2));
    config.pacing = Pacing::Manual;
    let mut dev = LoopbackDevice::new(config).unwrap();
    let _playout = dev.open_output(&engine()).unwrap();
    let _capture = dev.open_input(&engine()).unwrap();
    let plug = dev.unplug_handle();
    dev.start().unwrap();
    for _ in 0..10 {
        dev.tick().unwrap();
    }
    plug.unplug();
    assert!(matches!(dev.tick(), Err(AudioError::DeviceLost { .. })));
    assert!(!dev.is_running());
    let mut events = Vec::new();
    while let Some(e) = dev.poll_event() {
        events.push(e);
    }
    assert!(events.contains(&DeviceEvent::DeviceLost {
        direction: Direction::Output
    }));
    assert!(events.contains(&DeviceEvent::DeviceLost {
        direction: Direction::Input
    }));
    dev.stop().unwrap();
    assert!(matches!(dev.start(), Err(AudioError::DeviceLost { .. })));
}

#[test]
fn loopback_thread_stops_when_unplugged() {
    let mut config = LoopbackConfig::new(DeviceFormat::new(48_000, 1));
    config.pacing = Pacing::RealTime;
    let mut dev = LoopbackDevice::new(config).unwrap();
    let playout = dev.open_output(&engine()).unwrap();
    dev.start().unwrap();
    let plug = dev.unplug_handle();
    let deadline = Instant::now() + Duration::from_secs(5);
    while playout.stats().callbacks < 3 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    plug.unplug();
    let mut event = None;
    while event.is_none() && Instant::now() < deadline {
        event = dev.poll_event();
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(
        event,
        Some(DeviceEvent::DeviceLost {
            direction: Direction::Output
        })
    );
    while dev.is_running() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(!dev.is_running());
    assert!(matches!(dev.start(), Err(AudioError::DeviceLost { .. })));
}

/// A 16 kHz stereo WAV as the microphone, an 8 kHz mono WAV as the
/// speaker, a 48 kHz mono engine echoing captured frames to playout on
/// virtual time. The speaker file must hold a clean 440 Hz tone.
#[test]
fn wav_microphone_to_wav_speaker() {
    let input_path = temp_path("mic.wav");
    let output_path = temp_path("speaker.wav");
    let mut sine = Sine::new(440.0, 16_000.0, 0.5);
    let stereo_sine = (0..16_000 * 3).flat_map(|_| {
        let v = (sine.next() * 32767.0) as i16;
        [v, v]
    });
    write_wav(&input_path, 2, 16_000, stereo_sine);
    let mut dev = WavDevice::new(Pacing::Manual)
        .with_input(&input_path, false)
        .unwrap()
        .with_output(&output_path, Some((8_000, 1)))
        .unwrap();
    let mut capture = dev.open_input(&engine()).unwrap();
    let mut playout = dev.open_output(&engine()).unwrap();
    dev.start().unwrap();
    let mut frame = vec![0i16; 960];
    let (mut t_device, mut t_media) = (Duration::ZERO, Duration::ZERO);
    let mut ended = false;
    while !ended && t_device < Duration::from_secs(10) {
        if t_device <= t_media {
            t_device += dev.tick().unwrap();
        } else {
            capture.pop_frame(&mut frame).unwrap();
            playout.push_frame(&frame).unwrap();
            t_media += Duration::from_millis(20);
        }
        while let Some(event) = dev.poll_event() {
            assert_eq!(event, DeviceEvent::EndOfInput);
            ended = true;
        }
    }
    assert!(ended, "end of input reported");
    assert!(t_device >= Duration::from_secs(3) && t_device < Duration::from_millis(3100));
    dev.finalize().unwrap();
    assert_eq!(capture.stats().underruns, 0);
    assert_eq!(playout.stats().underruns, 0);

    let mut reader = hound::WavReader::open(&output_path).unwrap();
    let spec = reader.spec();
    assert_eq!((spec.sample_rate, spec.channels), (8_000, 1));
    let samples: Vec<f64> = reader
        .samples::<i16>()
        .map(|s| f64::from(s.unwrap()) / 32768.0)
        .collect();
    assert!(samples.len() > 8_000 * 29 / 10, "{}", samples.len());
    let (purity, freq) = purity_db(&samples[8_000..8_000 + 8192]);
    assert!(purity > 50.0, "purity {purity:.1} dB");
    assert!((freq * 8_000.0 - 440.0).abs() < 5.0, "{}", freq * 8_000.0);
    let _ = std::fs::remove_file(&input_path);
    let _ = std::fs::remove_file(&output_path);
}

#[test]
fn wav_errors_are_clear() {
    let missing = temp_path("does-not-exist.wav");
    assert!(matches!(
        WavDevice::new(Pacing::Manual).with_input(&missing, false),
        Err(AudioError::Wav { .. })
    ));
    let garbage = temp_path("garbage.wav");
    std::fs::write(&garbage, b"RIFF\x10\x00\x00\x00WAVEjunkjunkjunk").unwrap();
    assert!(matches!(
        WavDevice::new(Pacing::Manual).with_input(&garbage, false),
        Err(AudioError::Wav { .. })
    ));
    let _ = std::fs::remove_file(&garbage);
    let mut dev = WavDevice::new(Pacing::Manual);
    assert!(matches!(
        dev.open_output(&engine()),
        Err(AudioError::DirectionNotSupported {
            direction: Direction::Output,
            ..
        })
    ));
    assert!(matches!(
        dev.open_input(&engine()),
        Err(AudioError::DirectionNotSupported {
            direction: Direction::Input,
            ..
        })
    ));
}

#[test]
fn wav_input_loops() {
    let path = temp_path("loop.wav");
    write_wav(
        &path,
        1,
        8_000,
        (0..800).map(|i| if i % 2 == 0 { 0.5f32 } else { -0.5 }),
    );
    let mut dev = WavDevice::new(Pacing::Manual)
        .with_input(&path, true)
        .unwrap();
    let mut capture = dev
        .open_input(&StreamConfig::new(8_000, 1, FrameDuration::Ms10))
        .unwrap();
    dev.start().unwrap();
    let mut frame = vec![0i16; 80];
    let mut loud_frames = 0;
    for _ in 0..100 {
        dev.tick().unwrap();
        if capture.pop_frame(&mut frame).unwrap() == CaptureStatus::Frame
            && frame.iter().any(|&s| s.abs() > 8000)
        {
            loud_frames += 1;
        }
    }
    assert!(dev.poll_event().is_none(), "a looping file never ends");
    assert!(loud_frames > 90, "{loud_frames}");
    let _ = std::fs::remove_file(&path);
}

/// The device threads in real time: a 100 ms WAV microphone reaches its
/// end (reported once) within a generous deadline; a null device and a
/// loopback device, used through `Box<dyn AudioDevice>`, run callbacks.
#[test]
fn device_threads_run_in_real_time() {
    let path = temp_path("short.wav");
    write_wav(&path, 1, 8_000, std::iter::repeat_n(1000i16, 800));
    let mut devices: Vec<Box<dyn AudioDevice>> = vec![
        Box::new(
            WavDevice::new(Pacing::RealTime)
                .with_input(&path, false)
                .unwrap(),
        ),
        Box::new(NullDevice::new(None, Pacing::RealTime).unwrap()),
        Box::new(LoopbackDevice::new(LoopbackConfig::new(DeviceFormat::new(16_000, 1))).unwrap()),
    ];
    let mut captures = Vec::new();
    for dev in &mut devices {
        captures.push(dev.open_input(&engine()).unwrap());
        dev.start().unwrap();
        assert!(dev.is_running(), "{}", dev.name());
    }
    let start = Instant::now();
    let mut ended = false;
    while !ended && start.elapsed() < Duration::from_secs(5) {
        while let Some(event) = devices[0].poll_event() {
            assert_eq!(event, DeviceEvent::EndOfInput);
            ended = true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let elapsed = start.elapsed();
    assert!(ended, "no end of input after {elapsed:?}");
    assert!(
        elapsed >= Duration::from_millis(80),
        "too fast: {elapsed:?}"
    );
    for (dev, capture) in devices.iter_mut().zip(&captures) {
        assert!(
            capture.stats().callbacks >= 5,
            "{}: {:?}",
            dev.name(),
            capture.stats()
        );
        dev.stop().unwrap();
        assert!(!dev.is_running());
    }
    assert!(devices[0].poll_event().is_none(), "end reported once");
    let _ = std::fs::remove_file(&path);
}

/// The halves and devices move between threads (the engine's media thread,
/// the device thread).
#[test]
fn public_types_are_send() {
    fn send<T: Send>() {}
    send::<voipkit_audio::PlayoutStream>();
    send::<voipkit_audio::CaptureStream>();
    send::<voipkit_audio::PlayoutCallback>();
    send::<voipkit_audio::CaptureCallback>();
    send::<LoopbackDevice>();
    send::<NullDevice>();
    send::<WavDevice>();
    send::<Box<dyn AudioDevice>>();
    #[cfg(feature = "cpal")]
    send::<voipkit_audio::CpalDevice>();
}
