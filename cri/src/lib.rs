//! Kubernetes CRI (v1) for pouchd.
//!
//! This first cut only holds the generated runtime.v1 API (servers and
//! clients for RuntimeService and ImageService), compiled from the vendored
//! `proto/api.proto` (kubernetes/cri-api, pkg/apis/runtime/v1). The services
//! themselves, calling pouchd's managers, are not written yet.

/// Generated CRI v1 types, servers and clients (package `runtime.v1`).
#[allow(clippy::all, missing_docs)]
pub mod v1 {
    tonic::include_proto!("runtime.v1");
}

#[cfg(test)]
mod tests {
    use super::v1;
    use prost::Message;

    /// The generated messages round-trip, and both services have a client
    /// and a server (the names tests and pouchd will use).
    #[test]
    fn generated_api_round_trips() {
        let req = v1::VersionRequest {
            version: "v1".into(),
        };
        let bytes = req.encode_to_vec();
        let back = v1::VersionRequest::decode(bytes.as_slice()).expect("decode");
        assert_eq!(back.version, "v1");
        let _ = std::any::type_name::<v1::runtime_service_client::RuntimeServiceClient<()>>();
        let _ = std::any::type_name::<v1::image_service_client::ImageServiceClient<()>>();
        fn _servers<
            R: v1::runtime_service_server::RuntimeService,
            I: v1::image_service_server::ImageService,
        >() {
        }
    }
}
