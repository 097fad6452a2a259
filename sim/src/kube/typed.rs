//! Typed conveniences over `Store` for in-process controllers: the same calls as the HTTP
//! layer, with k8s-openapi types instead of JSON.

use k8s_openapi::Resource;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::registry::ResId;
use super::status::ApiError;
use super::store::{ListOptions, Store, WriteOptions};

fn decode<K: DeserializeOwned>(v: Value) -> Result<K, ApiError> {
    serde_json::from_value(v).map_err(|e| ApiError::internal(&e.to_string()))
}

impl Store {
    /// The resource serving `K` (e.g. `Pod`), if registered.
    pub fn res_of<K: Resource>(&self) -> Result<ResId, ApiError> {
        self.res(K::API_VERSION, K::KIND)
    }

    pub fn get_as<K: Resource + DeserializeOwned>(
        &self,
        ns: Option<&str>,
        name: &str,
    ) -> Result<K, ApiError> {
        decode(self.get(self.res_of::<K>()?, ns, name)?)
    }

    pub fn create_as<K: Resource + Serialize + DeserializeOwned>(
        &self,
        ns: Option<&str>,
        obj: &K,
    ) -> Result<K, ApiError> {
        let value = serde_json::to_value(obj).map_err(|e| ApiError::bad_request(e.to_string()))?;
        let written = self.create(self.res_of::<K>()?, ns, value, &WriteOptions::default())?;
        decode(written.object)
    }

    pub fn list_as<K: Resource + DeserializeOwned>(
        &self,
        ns: Option<&str>,
        opts: &ListOptions,
    ) -> Result<Vec<K>, ApiError> {
        let listed = self.list(self.res_of::<K>()?, ns, opts)?;
        listed.items.into_iter().map(decode).collect()
    }
}
