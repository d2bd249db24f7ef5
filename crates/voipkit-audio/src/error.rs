//! The crate's one error enum.

use std::path::PathBuf;

use crate::device::Direction;

/// Everything that can go wrong opening, running or feeding an audio device.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AudioError {
    /// The device does not exist or cannot be reached (no sound card, a
    /// headless machine, an unplugged headset, a wrong device name).
    #[error("audio device {device:?} is not available ({direction}): {detail}")]
    DeviceNotAvailable {
        /// The device's name or id as asked for.
        device: String,
        /// The direction that was being opened.
        direction: Direction,
        /// What the backend said.
        detail: String,
    },
    /// The device was running and went away (unplugged mid-call). Open a
    /// device again to continue.
    #[error("audio device {device:?} was lost ({direction})")]
    DeviceLost {
        /// The device's name.
        device: String,
        /// The direction that failed first.
        direction: Direction,
    },
    /// The device is in use by someone else; retrying later may work.
    #[error("audio device {device:?} is busy")]
    DeviceBusy {
        /// The device's name.
        device: String,
    },
    /// The operating system refused access (microphone permission).
    #[error("access to audio device {device:?} denied")]
    PermissionDenied {
        /// The device's name.
        device: String,
    },
    /// The requested format or setting is not supported.
    #[error("unsupported audio configuration: {reason}")]
    UnsupportedConfig {
        /// Which value and why.
        reason: String,
    },
    /// The device does not have this direction (e.g. input on a speaker).
    #[error("audio device {device:?} has no {direction}")]
    DirectionNotSupported {
        /// The device's name.
        device: String,
        /// The missing direction.
        direction: Direction,
    },
    /// A stream of this direction is already open on this device.
    #[error("{direction} stream already open")]
    AlreadyOpen {
        /// The direction.
        direction: Direction,
    },
    /// The operation needs a stopped device.
    #[error("device is running; stop it first")]
    Running,
    /// The operation needs a started device.
    #[error("device is not running")]
    NotRunning,
    /// `start` with no stream opened.
    #[error("no stream opened on this device")]
    NoStream,
    /// `push_frame`/`pop_frame` with a buffer of the wrong length.
    #[error("frame of {actual} samples, expected {expected}")]
    FrameLength {
        /// Interleaved samples per frame of this stream.
        expected: usize,
        /// What was given.
        actual: usize,
    },
    /// The playout ring had no room: the frame was dropped (and counted as
    /// an overrun).
    #[error("playout ring full, frame dropped")]
    RingFull,
    /// Reading or writing a WAV file failed.
    #[error("WAV file {path:?}: {source}")]
    Wav {
        /// The file.
        path: PathBuf,
        /// What hound said.
        #[source]
        source: hound::Error,
    },
    /// Spawning the device thread failed.
    #[error("could not start device thread: {0}")]
    Thread(#[source] std::io::Error),
    /// Any other backend failure (the backend's own text).
    #[error("audio backend error: {0}")]
    Backend(String),
}
