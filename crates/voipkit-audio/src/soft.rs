//! The machinery shared by the software devices (null, WAV, loopback):
//! a device thread paced by the real clock, or manual ticks on virtual
//! time, around a backend that runs one device period at a time.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::AudioError;
use crate::device::{Direction, EventQueue, RealtimeHook};
use crate::format::{DeviceFormat, StreamConfig};
use crate::stream::{
    CaptureCallback, CaptureStream, PlayoutCallback, PlayoutStream, capture_channel,
    playout_channel,
};

/// Implements `Debug` and [`AudioDevice`](crate::AudioDevice) for a
/// software device: a struct whose field `inner` is its [`SoftDevice`].
macro_rules! soft_device_impls {
    ($device:ident) => {
        impl std::fmt::Debug for $device {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($device))
                    .field("name", &self.inner.name())
                    .field("running", &self.inner.is_running())
                    .finish_non_exhaustive()
            }
        }

        impl $crate::AudioDevice for $device {
            fn name(&self) -> &str {
                self.inner.name()
            }
            fn open_input(
                &mut self,
                config: &$crate::StreamConfig,
            ) -> Result<$crate::CaptureStream, $crate::AudioError> {
                self.inner.open_input(config)
            }
            fn open_output(
                &mut self,
                config: &$crate::StreamConfig,
            ) -> Result<$crate::PlayoutStream, $crate::AudioError> {
                self.inner.open_output(config)
            }
            fn start(&mut self) -> Result<(), $crate::AudioError> {
                self.inner.start()
            }
            fn stop(&mut self) -> Result<(), $crate::AudioError> {
                self.inner.stop()
            }
            fn is_running(&self) -> bool {
                self.inner.is_running()
            }
            fn poll_event(&mut self) -> Option<$crate::DeviceEvent> {
                self.inner.poll_event()
            }
        }
    };
}
pub(crate) use soft_device_impls;

/// How a software device's clock runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pacing {
    /// A device thread runs one period per period of real time (like a
    /// sound card). Use in examples and live runs.
    RealTime,
    /// No thread: the owner calls `tick()` once per device period, on
    /// whatever clock it likes (tests on virtual time).
    Manual,
}

/// One device's behaviour, one period at a time.
pub(crate) trait SoftBackend: Send + 'static {
    /// Device format a new stream of this direction will run at.
    fn device_format(
        &self,
        direction: Direction,
        config: &StreamConfig,
    ) -> Result<DeviceFormat, AudioError>;
    /// Takes the real-time half of a new playout stream (the WAV device
    /// creates its file here, which can fail).
    fn attach_playout(
        &mut self,
        callback: PlayoutCallback,
        format: DeviceFormat,
    ) -> Result<(), AudioError>;
    /// Takes the real-time half of a new capture stream.
    fn attach_capture(&mut self, callback: CaptureCallback, format: DeviceFormat);
    /// Whether a stream of this direction is attached.
    fn has(&self, direction: Direction) -> bool;
    /// Runs one period. Returns the time it covers on the device's
    /// clock, or `None` when the device is gone (it raised the event).
    fn period(&mut self, hook: Option<RealtimeHook>) -> Option<Duration>;
    /// Called when the device stops (flush files).
    fn on_stop(&mut self) -> Result<(), AudioError> {
        Ok(())
    }
}

enum RunState<B> {
    Stopped(B),
    Manual(B),
    Threaded {
        stop: Arc<AtomicBool>,
        handle: JoinHandle<(B, bool)>,
    },
    /// Only during a transition, or after a device thread panicked.
    Gone,
}

/// A software device: backend + clocking + events.
pub(crate) struct SoftDevice<B: SoftBackend> {
    name: String,
    state: RunState<B>,
    pacing: Pacing,
    hook: Option<RealtimeHook>,
    events: EventQueue,
    lost: bool,
}

impl<B: SoftBackend> SoftDevice<B> {
    pub(crate) fn new(name: String, backend: B, pacing: Pacing) -> Self {
        SoftDevice {
            name,
            state: RunState::Stopped(backend),
            pacing,
            hook: None,
            events: EventQueue::default(),
            lost: false,
        }
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn set_hook(&mut self, hook: Option<RealtimeHook>) {
        self.hook = hook;
    }

    /// The backend, when stopped.
    pub(crate) fn backend_mut(&mut self) -> Result<&mut B, AudioError> {
        match &mut self.state {
            RunState::Stopped(b) => Ok(b),
            RunState::Manual(_) | RunState::Threaded { .. } => Err(AudioError::Running),
            RunState::Gone => Err(AudioError::DeviceLost {
                device: self.name.clone(),
                direction: Direction::Output,
            }),
        }
    }

    fn lost_error(&self, direction: Direction) -> AudioError {
        AudioError::DeviceLost {
            device: self.name.clone(),
            direction,
        }
    }

    /// The backend, when a stream of `direction` may be opened on it: the
    /// device is not lost, is stopped, and has no such stream yet.
    fn backend_to_open(&mut self, direction: Direction) -> Result<&mut B, AudioError> {
        if self.lost {
            return Err(self.lost_error(direction));
        }
        let backend = self.backend_mut()?;
        if backend.has(direction) {
            return Err(AudioError::AlreadyOpen { direction });
        }
        Ok(backend)
    }

    pub(crate) fn open_input(
        &mut self,
        config: &StreamConfig,
    ) -> Result<CaptureStream, AudioError> {
        let backend = self.backend_to_open(Direction::Input)?;
        let format = backend.device_format(Direction::Input, config)?;
        let (stream, callback) = capture_channel(config, &format)?;
        backend.attach_capture(callback, format);
        self.events
            .add_source(Direction::Input, Arc::clone(stream.shared()));
        Ok(stream)
    }

    pub(crate) fn open_output(
        &mut self,
        config: &StreamConfig,
    ) -> Result<PlayoutStream, AudioError> {
        let backend = self.backend_to_open(Direction::Output)?;
        let format = backend.device_format(Direction::Output, config)?;
        let (stream, callback) = playout_channel(config, &format)?;
        backend.attach_playout(callback, format)?;
        self.events
            .add_source(Direction::Output, Arc::clone(stream.shared()));
        Ok(stream)
    }

    pub(crate) fn start(&mut self) -> Result<(), AudioError> {
        self.reap();
        if self.lost {
            return Err(self.lost_error(Direction::Output));
        }
        let backend = match std::mem::replace(&mut self.state, RunState::Gone) {
            RunState::Stopped(b) => b,
            other => {
                self.state = other;
                return Err(AudioError::Running);
            }
        };
        if !backend.has(Direction::Input) && !backend.has(Direction::Output) {
            self.state = RunState::Stopped(backend);
            return Err(AudioError::NoStream);
        }
        match self.pacing {
            Pacing::Manual => {
                self.state = RunState::Manual(backend);
                Ok(())
            }
            Pacing::RealTime => {
                let stop = Arc::new(AtomicBool::new(false));
                let thread_stop = Arc::clone(&stop);
                let hook = self.hook;
                let mut backend = backend;
                let spawned = std::thread::Builder::new()
                    .name(format!("voipkit-audio {}", self.name))
                    .spawn(move || {
                        let lost = run_paced(&mut backend, &thread_stop, hook);
                        (backend, lost)
                    });
                match spawned {
                    Ok(handle) => {
                        self.state = RunState::Threaded { stop, handle };
                        Ok(())
                    }
                    Err(e) => Err(AudioError::Thread(e)),
                }
            }
        }
    }

    pub(crate) fn stop(&mut self) -> Result<(), AudioError> {
        match std::mem::replace(&mut self.state, RunState::Gone) {
            RunState::Stopped(b) => {
                self.state = RunState::Stopped(b);
                Ok(())
            }
            RunState::Manual(mut b) => {
                let result = b.on_stop();
                self.state = RunState::Stopped(b);
                result
            }
            RunState::Threaded { stop, handle } => {
                stop.store(true, Ordering::Relaxed);
                match handle.join() {
                    Ok((mut b, lost)) => {
                        self.lost |= lost;
                        let result = b.on_stop();
                        self.state = RunState::Stopped(b);
                        result
                    }
                    Err(_) => {
                        self.lost = true;
                        Err(AudioError::Backend("device thread panicked".to_owned()))
                    }
                }
            }
            RunState::Gone => Ok(()),
        }
    }

    /// Joins a device thread that ended on its own (device lost).
    fn reap(&mut self) {
        if let RunState::Threaded { handle, .. } = &self.state
            && handle.is_finished()
        {
            let _ = self.stop();
        }
    }

    pub(crate) fn is_running(&self) -> bool {
        match &self.state {
            RunState::Manual(_) => !self.lost,
            RunState::Threaded { handle, .. } => !handle.is_finished(),
            RunState::Stopped(_) | RunState::Gone => false,
        }
    }

    pub(crate) fn poll_event(&mut self) -> Option<crate::DeviceEvent> {
        self.events.poll()
    }

    /// Manual pacing: runs one device period now; returns the time it
    /// covers on the device's clock.
    pub(crate) fn tick(&mut self) -> Result<Duration, AudioError> {
        if self.lost {
            return Err(self.lost_error(Direction::Output));
        }
        match &mut self.state {
            RunState::Manual(b) => match b.period(self.hook) {
                Some(period) => Ok(period),
                None => {
                    self.lost = true;
                    Err(self.lost_error(Direction::Output))
                }
            },
            RunState::Threaded { .. } => Err(AudioError::UnsupportedConfig {
                reason: "tick() needs Pacing::Manual".to_owned(),
            }),
            RunState::Stopped(_) | RunState::Gone => Err(AudioError::NotRunning),
        }
    }
}

impl<B: SoftBackend> Drop for SoftDevice<B> {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

/// The device thread: one period per period of real time. Returns true if
/// the device was lost.
fn run_paced<B: SoftBackend>(
    backend: &mut B,
    stop: &AtomicBool,
    hook: Option<RealtimeHook>,
) -> bool {
    let mut deadline = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        let Some(period) = backend.period(hook) else {
            return true;
        };
        let period = period.max(Duration::from_micros(100));
        deadline += period;
        let now = Instant::now();
        if deadline > now {
            std::thread::sleep(deadline - now);
        } else if now - deadline > period * 8 {
            // Fell far behind (machine suspended, debugger): resynchronise
            // instead of running a burst of periods.
            deadline = now;
        }
    }
    false
}
