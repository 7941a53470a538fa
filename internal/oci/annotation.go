package oci

// RefNameAnnotation names an image on its descriptor in an OCI layout's
// index.json. ferry writes the full name the appliance's registry serves
// ("wf/api:1.4.0"); other tools often write a bare tag ("1.4.0").
const RefNameAnnotation = "org.opencontainers.image.ref.name"
