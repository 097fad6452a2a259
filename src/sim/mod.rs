//! Simulators that speak the real HTTP APIs of the systems suture talks to, so the product's
//! real clients run against them over loopback (design §10).

pub mod kube;
