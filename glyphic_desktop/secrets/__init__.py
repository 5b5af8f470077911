"""Credentials: encryption at rest, the master keyset, credential types, masking, references.

- ``crypto``: AES-256-GCM blobs bound to their row (``encrypt_fields`` / ``decrypt_fields``).
- ``keys``: the keyset from GLYPHIC_SECRET_KEY, the OS keyring or a 0600 file (``load_keyset``).
- ``rotation``: ``rotate_master_key(db)``.
- ``types``: credential types and their registry (``credential_types``).
- ``masking``: ``SecretMasker``, the one masking function every sink uses.
- ``references``: strip / bind / resolve credential bindings in workflow documents.

The store side is ``store/repositories/integrations.py`` (``IntegrationRepository``).
"""
