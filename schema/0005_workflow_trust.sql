-- 0005_workflow_trust.sql: workflows that came in from outside and run code or commands
-- stay untrusted until the person trusts them (DESIGN.md §3, "Trust"). ADDITION TO THE SEED.
--
-- Addition to the seed: untrusted_nodes holds the ids of the nodes that came in from
-- outside (an import, a paste of foreign JSON, a file opened in the editor, a copy of
-- another user's workflow) and run code or commands (Code, Run command, any node type
-- that declares runs_code), or whose type was unknown when they came in. Runs of a
-- workflow whose document still holds such a node are refused, naming the nodes, until
-- the person trusts them ('glyphic trust', the editor's "Trust and enable", or editing
-- the node's code). Empty: the workflow is trusted (every workflow stored before this
-- migration, and every one the person made themselves).
--
-- Addition to the seed: untrusted_source says where those nodes came from ("imported
-- from report.json"), for the editor's banner and the refusal message; NULL when none.
--
-- Neither column is in the updated_at trigger's list: trusting is not an edit.
ALTER TABLE workflows
  ADD COLUMN untrusted_nodes TEXT[] NOT NULL DEFAULT '{}',
  ADD COLUMN untrusted_source TEXT;
