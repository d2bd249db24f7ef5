//! The [`AudioDevice`] trait, device events and the real-time hook.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;

use crate::AudioError;
use crate::format::StreamConfig;
use crate::stream::{CaptureStream, PlayoutStream, Shared, event_bits};

/// Capture (microphone) or playout (speaker).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Capture: device to engine.
    Input,
    /// Playout: engine to device.
    Output,
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Direction::Input => "input (capture)",
            Direction::Output => "output (playout)",
        })
    }
}

/// Something that happened to a running device, reported by
/// [`AudioDevice::poll_event`] on the media thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeviceEvent {
    /// The device went away (unplugged mid-call). The stream is dead; open
    /// another device.
    DeviceLost {
        /// Which stream noticed.
        direction: Direction,
    },
    /// The backend says the stream must be rebuilt (format change).
    StreamInvalidated {
        /// Which stream.
        direction: Direction,
    },
    /// The system rerouted the stream to another device (it keeps running).
    RouteChanged {
        /// Which stream.
        direction: Direction,
    },
    /// The backend reported an xrun of its own (below our ring).
    DeviceXrun {
        /// Which stream.
        direction: Direction,
    },
    /// The backend reported an error it could not classify.
    BackendError {
        /// Which stream.
        direction: Direction,
    },
    /// A file used as a microphone reached its end; silence follows.
    EndOfInput,
}

/// Where a [`RealtimeHook`] is called.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RealtimeSection {
    /// Just before the device's real-time work (our callbacks) starts.
    Enter,
    /// Just after it ended.
    Exit,
}

/// A function the device driver calls around each real-time callback, on
/// the real-time thread, for instrumentation: the allocation audit sets a
/// thread-local flag with it. It must itself be real-time safe.
pub type RealtimeHook = fn(RealtimeSection);

#[inline]
pub(crate) fn rt_enter(hook: Option<RealtimeHook>) {
    if let Some(h) = hook {
        h(RealtimeSection::Enter);
    }
}

#[inline]
pub(crate) fn rt_exit(hook: Option<RealtimeHook>) {
    if let Some(h) = hook {
        h(RealtimeSection::Exit);
    }
}

/// An audio device: something that can capture and/or play, at its own
/// format and clock, exchanging engine frames through rings.
///
/// Lifecycle: `open_input`/`open_output` while stopped (each at most once),
/// then `start`, then `stop` (and `start` again if wanted). The media
/// thread keeps the returned [`CaptureStream`]/[`PlayoutStream`] and calls
/// `poll_event` regularly to learn about a lost device.
pub trait AudioDevice: Send {
    /// The device's name (for logs and errors).
    fn name(&self) -> &str;

    /// Opens capture, converting from the device format to `config`.
    fn open_input(&mut self, config: &StreamConfig) -> Result<CaptureStream, AudioError>;

    /// Opens playout, converting from `config` to the device format.
    fn open_output(&mut self, config: &StreamConfig) -> Result<PlayoutStream, AudioError>;

    /// Starts the device (its real-time callbacks begin to run).
    fn start(&mut self) -> Result<(), AudioError>;

    /// Stops the device; the streams stay valid and may be started again.
    fn stop(&mut self) -> Result<(), AudioError>;

    /// True between a successful `start` and `stop` (false after the
    /// device was lost).
    fn is_running(&self) -> bool;

    /// The next device event, if any. Cheap; call it once per frame.
    fn poll_event(&mut self) -> Option<DeviceEvent>;
}

/// Media-side collector of device events raised (as atomic flags) by the
/// real-time side of a device's streams.
#[derive(Debug, Default)]
pub(crate) struct EventQueue {
    sources: Vec<(Direction, Arc<Shared>)>,
    pending: VecDeque<DeviceEvent>,
}

impl EventQueue {
    pub(crate) fn add_source(&mut self, direction: Direction, shared: Arc<Shared>) {
        self.sources.push((direction, shared));
    }

    pub(crate) fn poll(&mut self) -> Option<DeviceEvent> {
        if self.pending.is_empty() {
            for (direction, shared) in &self.sources {
                let bits = shared.take_events();
                if bits == 0 {
                    continue;
                }
                let direction = *direction;
                let table = [
                    (
                        event_bits::DEVICE_LOST,
                        DeviceEvent::DeviceLost { direction },
                    ),
                    (
                        event_bits::STREAM_INVALIDATED,
                        DeviceEvent::StreamInvalidated { direction },
                    ),
                    (
                        event_bits::ROUTE_CHANGED,
                        DeviceEvent::RouteChanged { direction },
                    ),
                    (
                        event_bits::DEVICE_XRUN,
                        DeviceEvent::DeviceXrun { direction },
                    ),
                    (
                        event_bits::BACKEND_ERROR,
                        DeviceEvent::BackendError { direction },
                    ),
                    (event_bits::END_OF_INPUT, DeviceEvent::EndOfInput),
                ];
                for (bit, event) in table {
                    if bits & bit != 0 {
                        self.pending.push_back(event);
                    }
                }
            }
        }
        self.pending.pop_front()
    }
}
