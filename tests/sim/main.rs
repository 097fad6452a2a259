//! suture run on what the simulators serve (feature `sim`): the controllers' objects through
//! suture's detection, and every scenario World planned end to end. One test binary on purpose:
//! each binary that links kube-rs costs ~10 s to rebuild after any change to suture.

mod controllers;
mod world;
