//! The ONVIF clients of added cameras that are turned, kept between requests (see
//! [`crate::OnvifSettings::ptz`]).
//!
//! - one client per camera, its service addresses and clock offset learned once; it is given
//!   back only while the camera's device address and credentials are the ones it was built with,
//!   so a changed camera gets a new one;
//! - each camera's presets as last read, read again only when asked to (opening the view, or a
//!   command naming an unknown preset), not by every command;
//! - the generation of each camera's last command, so that an automatic stop scheduled by an
//!   older move does nothing once a newer command came.

use crate::{OnvifClient, PtzPreset, Result};
use roeh_domain::{CameraId, Credentials};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// The per-camera ONVIF clients, presets and command generations.
#[derive(Debug, Default)]
pub struct PtzClients {
    clients: Mutex<HashMap<CameraId, Cached>>,
    generation: Mutex<HashMap<CameraId, u64>>,
    presets: Mutex<HashMap<CameraId, Vec<PtzPreset>>>,
}

#[derive(Debug)]
struct Cached {
    device_url: String,
    creds: Option<Credentials>,
    client: Arc<OnvifClient>,
}

/// A lock that a panicking holder left behind is still usable: every map stays consistent
/// between statements.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl PtzClients {
    /// The kept client of `camera`, if it was built for `device_url` and `creds`.
    pub fn client(
        &self,
        camera: CameraId,
        device_url: &str,
        creds: Option<&Credentials>,
    ) -> Option<Arc<OnvifClient>> {
        lock(&self.clients)
            .get(&camera)
            .filter(|c| c.device_url == device_url && c.creds.as_ref() == creds)
            .map(|c| c.client.clone())
    }

    /// Keeps `client`, built for `device_url` and `creds`, as `camera`'s client.
    pub fn keep(
        &self,
        camera: CameraId,
        device_url: String,
        creds: Option<Credentials>,
        client: Arc<OnvifClient>,
    ) {
        lock(&self.clients).insert(
            camera,
            Cached {
                device_url,
                creds,
                client,
            },
        );
    }

    /// A new command for `camera`: returns its generation (a pending automatic stop of an older
    /// move then does nothing).
    pub fn next_generation(&self, camera: CameraId) -> u64 {
        let mut g = lock(&self.generation);
        let n = g.entry(camera).or_default();
        *n = n.wrapping_add(1);
        *n
    }

    /// Whether `generation` is still `camera`'s latest command.
    pub fn is_current(&self, camera: CameraId, generation: u64) -> bool {
        lock(&self.generation).get(&camera) == Some(&generation)
    }

    /// `camera`'s presets: the remembered list, or the device's (through `client`, for the
    /// profile `profile`) when `refresh` or none is known.
    pub async fn presets(
        &self,
        camera: CameraId,
        client: &OnvifClient,
        profile: &str,
        refresh: bool,
    ) -> Result<Vec<PtzPreset>> {
        if !refresh && let Some(p) = lock(&self.presets).get(&camera) {
            return Ok(p.clone());
        }
        let fresh = client.ptz_presets(profile).await?;
        lock(&self.presets).insert(camera, fresh.clone());
        Ok(fresh)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_latest_command_is_current() {
        let c = PtzClients::default();
        let cam = CameraId::new_random();
        let first = c.next_generation(cam);
        assert!(c.is_current(cam, first));
        let second = c.next_generation(cam);
        assert!(!c.is_current(cam, first));
        assert!(c.is_current(cam, second));
        assert!(!c.is_current(CameraId::new_random(), second));
    }
}
