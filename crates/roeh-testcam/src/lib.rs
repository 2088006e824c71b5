//! Test camera server (under construction).
