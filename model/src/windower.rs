//! Cutting sessions into windows (to be written).
