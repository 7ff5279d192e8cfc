throw new Error("node-aead-crypto stub: node-dtls-client uses node:crypto on Node >= 10");
