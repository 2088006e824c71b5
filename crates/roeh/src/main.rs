//! The `roeh` command.
mod config;
fn main() {}
