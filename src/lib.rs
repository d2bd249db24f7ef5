//! Examples and benches of the voipkit workspace live in examples/ and benches/.

pub mod pipeline;
