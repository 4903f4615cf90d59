-- A small knowledge base for RAG retrieval, with personal data in places a retriever will reach.
CREATE SCHEMA crm;

CREATE TABLE public.documents (
  doc_id     int PRIMARY KEY,
  title      text NOT NULL,
  source     text NOT NULL,
  owner      text NOT NULL
);

CREATE TABLE public.chunks (
  chunk_id   int PRIMARY KEY,
  doc_id     int NOT NULL REFERENCES public.documents,
  ord        int NOT NULL,
  body       text NOT NULL,
  embedding  text NOT NULL,          -- a vector as text; travels through the gateway unchanged
  meta       jsonb NOT NULL DEFAULT '{}'
);

CREATE TABLE crm.customers (
  id         int PRIMARY KEY,
  name       text NOT NULL,
  email      text NOT NULL UNIQUE,
  phone      text,
  card       text,
  ssn        text,
  notes      text
);

INSERT INTO public.documents VALUES
  (1, 'Refund policy', 'wiki/support/refunds.md', 'support@acme.example'),
  (2, 'Escalation runbook', 'wiki/support/escalation.md', 'oncall@acme.example'),
  (3, 'Enterprise onboarding notes', 'drive/sales/onboarding.docx', 'sales@acme.example'),
  (4, 'Incident 2026-10-14 postmortem', 'wiki/eng/incidents/2026-10-14.md', 'sre@acme.example');

INSERT INTO public.chunks VALUES
  (101, 1, 0, 'Refunds are issued within 14 days of a request. Customers on annual plans get a prorated refund.', '[0.12, 0.08, 0.91]', '{"lang": "en"}'),
  (102, 1, 1, 'For a refund dispute contact billing at billing@acme.example or call +1 415 555 0132.', '[0.10, 0.11, 0.88]', '{"lang": "en", "contact": "billing@acme.example"}'),
  (201, 2, 0, 'Escalate a refund above 5000 USD to the duty manager. Jane Roe (jane.roe@acme.example, +44 20 7946 0958) approves.', '[0.33, 0.41, 0.12]', '{"lang": "en"}'),
  (202, 2, 1, 'The billing API key for the refund tool is AKIAIOSFODNN7EXAMPLE; rotate it after use.', '[0.35, 0.40, 0.10]', '{"lang": "en"}'),
  (301, 3, 0, 'Globex pays by card 4111 1111 1111 1111; their admin is ops@globex.example, SSN on file 123-45-6789.', '[0.71, 0.05, 0.22]', '{"customer": "Globex", "email": "ops@globex.example"}'),
  (401, 4, 0, 'The outage started when host 10.20.30.40 exhausted connections; refunds were delayed by two hours.', '[0.52, 0.61, 0.33]', '{"severity": 2}');

INSERT INTO crm.customers VALUES
  (1, 'Globex', 'ops@globex.example', '+1 212 555 0199', '4111 1111 1111 1111', '123-45-6789', 'Prefers email. IBAN GB82 WEST 1234 5698 7654 32.'),
  (2, 'Initech', 'billing@initech.example', '+1 512 555 0147', '5500 0000 0000 0004', '219-09-9999', 'Asked for a refund on 2026-11-02.'),
  (3, 'Umbrella', 'legal@umbrella.example', '+49 30 901820', NULL, NULL, 'Contract renewal in Q1.');
