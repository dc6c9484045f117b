/**
 * A database in the shape of a hosted Supabase project, written from what Supabase publishes:
 * supabase/postgres's init scripts (roles, extensions schema, default privileges, the
 * supabase_realtime publication, the pg_cron event trigger), supabase/auth's and
 * supabase/storage's first migrations (auth.users, auth.uid(), storage.buckets/objects),
 * realtime's schema (subscription with a regrole column, messages partitioned by day), and the
 * Supabase CLI's dump scripts (which roles are reserved). The cluster bootstraps as
 * supabase_admin, as Supabase's image does, so `postgres` is NOSUPERUSER BYPASSRLS with
 * pg_read_all_data, as on the platform; `GRANT SET ON PARAMETER session_replication_role`
 * stands in for supautils, which lets `postgres` set it there.
 */
import { startCluster, type TestCluster } from './postgres.js'

/** Cluster-wide: the platform's roles, created once per cluster. */
const PLATFORM_ROLES = (password: string) => String.raw`
CREATE ROLE supabase_auth_admin LOGIN NOINHERIT CREATEROLE NOREPLICATION;
CREATE ROLE supabase_storage_admin LOGIN NOINHERIT CREATEROLE NOREPLICATION;
CREATE ROLE supabase_realtime_admin NOLOGIN NOINHERIT NOREPLICATION;
CREATE ROLE postgres LOGIN CREATEROLE CREATEDB REPLICATION BYPASSRLS PASSWORD '${password.replace(/'/g, "''")}';
GRANT pg_read_all_data, pg_signal_backend TO postgres;
CREATE ROLE anon NOLOGIN NOINHERIT;
CREATE ROLE authenticated NOLOGIN NOINHERIT;
CREATE ROLE service_role NOLOGIN NOINHERIT BYPASSRLS;
CREATE ROLE authenticator LOGIN NOINHERIT;
GRANT anon, authenticated, service_role TO authenticator;
GRANT anon, authenticated, service_role TO postgres WITH ADMIN OPTION;
GRANT supabase_auth_admin, supabase_storage_admin, supabase_realtime_admin TO postgres;
CREATE ROLE supabase_replication_admin LOGIN REPLICATION;
CREATE ROLE supabase_read_only_user LOGIN BYPASSRLS;
GRANT pg_read_all_data TO supabase_read_only_user;
CREATE ROLE dashboard_user NOSUPERUSER CREATEDB CREATEROLE REPLICATION;
CREATE ROLE pgbouncer LOGIN;
GRANT SET ON PARAMETER session_replication_role TO postgres;
`

/** Per database, as supabase_admin: what a new project holds before the user adds anything. */
export const PLATFORM_SQL = String.raw`
DO $$ BEGIN EXECUTE format('ALTER DATABASE %I OWNER TO postgres', current_database()); END $$;
CREATE PUBLICATION supabase_realtime;
ALTER PUBLICATION supabase_realtime OWNER TO postgres;

CREATE SCHEMA extensions AUTHORIZATION postgres;
CREATE EXTENSION "uuid-ossp" WITH SCHEMA extensions;
CREATE EXTENSION pgcrypto WITH SCHEMA extensions;
GRANT USAGE ON SCHEMA public TO postgres, anon, authenticated, service_role;
GRANT USAGE ON SCHEMA extensions TO postgres, anon, authenticated, service_role;
GRANT ALL ON SCHEMA extensions TO dashboard_user;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON TABLES TO postgres, anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON FUNCTIONS TO postgres, anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON SEQUENCES TO postgres, anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public GRANT ALL ON TABLES TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public GRANT ALL ON FUNCTIONS TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public GRANT ALL ON SEQUENCES TO anon, authenticated, service_role;

CREATE FUNCTION extensions.grant_pg_cron_access() RETURNS event_trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_event_trigger_ddl_commands() ev JOIN pg_namespace n ON ev.objid = n.oid WHERE n.nspname = 'cron') THEN
    GRANT USAGE ON SCHEMA cron TO postgres WITH GRANT OPTION;
  END IF;
END $$;
CREATE EVENT TRIGGER issue_pg_cron_access ON ddl_command_end WHEN TAG IN ('CREATE SCHEMA') EXECUTE FUNCTION extensions.grant_pg_cron_access();

-- supabase/auth
CREATE SCHEMA auth AUTHORIZATION supabase_admin;
CREATE TABLE auth.users (
  instance_id uuid, id uuid NOT NULL PRIMARY KEY, aud varchar(255), role varchar(255), email varchar(255) UNIQUE,
  encrypted_password varchar(255), confirmed_at timestamptz, last_sign_in_at timestamptz,
  raw_app_meta_data jsonb, raw_user_meta_data jsonb, is_super_admin boolean, created_at timestamptz, updated_at timestamptz
);
CREATE INDEX users_instance_id_idx ON auth.users (instance_id);
CREATE TABLE auth.identities (
  id text NOT NULL, user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE, identity_data jsonb NOT NULL,
  provider text NOT NULL, created_at timestamptz, PRIMARY KEY (provider, id)
);
CREATE TABLE auth.refresh_tokens (id bigserial PRIMARY KEY, token varchar(255), user_id varchar(255), revoked boolean, created_at timestamptz);
CREATE TABLE auth.schema_migrations (version varchar(255) PRIMARY KEY);
INSERT INTO auth.schema_migrations VALUES ('20171026211738'), ('20171026211808'), ('20221003041349');
CREATE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE AS $$
  SELECT coalesce(nullif(current_setting('request.jwt.claim.sub', true), ''), (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub'))::uuid
$$;
CREATE FUNCTION auth.role() RETURNS text LANGUAGE sql STABLE AS $$ SELECT nullif(current_setting('request.jwt.claim.role', true), '')::text $$;
CREATE FUNCTION auth.jwt() RETURNS jsonb LANGUAGE sql STABLE AS $$ SELECT nullif(current_setting('request.jwt.claims', true), '')::jsonb $$;
GRANT USAGE ON SCHEMA auth TO anon, authenticated, service_role;
GRANT ALL ON SCHEMA auth TO supabase_auth_admin, dashboard_user;
GRANT ALL ON ALL TABLES IN SCHEMA auth TO supabase_auth_admin, dashboard_user, postgres;
GRANT ALL ON ALL SEQUENCES IN SCHEMA auth TO supabase_auth_admin, dashboard_user, postgres;
ALTER TABLE auth.users OWNER TO supabase_auth_admin;
ALTER TABLE auth.identities OWNER TO supabase_auth_admin;
ALTER TABLE auth.refresh_tokens OWNER TO supabase_auth_admin;
ALTER TABLE auth.schema_migrations OWNER TO supabase_auth_admin;
ALTER FUNCTION auth.uid() OWNER TO supabase_auth_admin;
ALTER FUNCTION auth.role() OWNER TO supabase_auth_admin;
ALTER FUNCTION auth.jwt() OWNER TO supabase_auth_admin;
GRANT EXECUTE ON FUNCTION auth.uid(), auth.role(), auth.jwt() TO dashboard_user, postgres;

-- supabase/storage
CREATE SCHEMA storage AUTHORIZATION supabase_admin;
CREATE TABLE storage.buckets (
  id text PRIMARY KEY, name text NOT NULL, owner uuid, public boolean DEFAULT false,
  created_at timestamptz DEFAULT now(), updated_at timestamptz DEFAULT now()
);
CREATE UNIQUE INDEX bname ON storage.buckets USING btree (name);
CREATE TABLE storage.objects (
  id uuid NOT NULL DEFAULT extensions.uuid_generate_v4() PRIMARY KEY, bucket_id text REFERENCES storage.buckets (id), name text, owner uuid,
  metadata jsonb, created_at timestamptz DEFAULT now(), updated_at timestamptz DEFAULT now(), last_accessed_at timestamptz DEFAULT now(),
  path_tokens text[] GENERATED ALWAYS AS (string_to_array(name, '/')) STORED
);
CREATE UNIQUE INDEX bucketid_objname ON storage.objects USING btree (bucket_id, name);
ALTER TABLE storage.objects ENABLE ROW LEVEL SECURITY;
CREATE TABLE storage.migrations (id integer PRIMARY KEY, name varchar(100) UNIQUE NOT NULL, hash varchar(40) NOT NULL, executed_at timestamp DEFAULT current_timestamp);
INSERT INTO storage.migrations (id, name, hash) VALUES (0, 'create-migrations-table', 'e18db593bcde2aca2a408c4d1100f6abba2195df'), (1, 'initialmigration', '6ab16121fbaa08bbd11b712d05f358f9b555d777');
CREATE FUNCTION storage.foldername(name text) RETURNS text[] LANGUAGE plpgsql AS $$
DECLARE _parts text[];
BEGIN
  SELECT string_to_array(name, '/') INTO _parts;
  RETURN _parts[1:array_length(_parts, 1) - 1];
END $$;
CREATE FUNCTION storage.update_updated_at_column() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN NEW.updated_at = now(); RETURN NEW; END $$;
CREATE TRIGGER update_objects_updated_at BEFORE UPDATE ON storage.objects FOR EACH ROW EXECUTE FUNCTION storage.update_updated_at_column();
GRANT USAGE ON SCHEMA storage TO postgres, anon, authenticated, service_role;
GRANT ALL ON SCHEMA storage TO supabase_storage_admin, dashboard_user;
GRANT ALL ON ALL TABLES IN SCHEMA storage TO anon, authenticated, service_role, postgres, supabase_storage_admin;
ALTER TABLE storage.buckets OWNER TO supabase_storage_admin;
ALTER TABLE storage.objects OWNER TO supabase_storage_admin;
ALTER TABLE storage.migrations OWNER TO supabase_storage_admin;
ALTER FUNCTION storage.foldername(text) OWNER TO supabase_storage_admin;

-- realtime
CREATE SCHEMA realtime AUTHORIZATION supabase_admin;
CREATE TABLE realtime.schema_migrations (version bigint PRIMARY KEY, inserted_at timestamp(0));
INSERT INTO realtime.schema_migrations VALUES (20211116024918, '2024-01-01'), (20240919163303, '2024-09-20');
CREATE TABLE realtime.subscription (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, subscription_id uuid NOT NULL, entity regclass NOT NULL,
  claims jsonb NOT NULL, claims_role regrole NOT NULL, created_at timestamp NOT NULL DEFAULT timezone('utc', now())
);
CREATE TABLE realtime.messages (
  topic text NOT NULL, extension text NOT NULL, payload jsonb, event text, private boolean DEFAULT false,
  updated_at timestamp NOT NULL DEFAULT now(), inserted_at timestamp NOT NULL DEFAULT now(), id uuid NOT NULL DEFAULT gen_random_uuid(),
  PRIMARY KEY (id, inserted_at)
) PARTITION BY RANGE (inserted_at);
CREATE TABLE realtime.messages_2026_11_29 PARTITION OF realtime.messages FOR VALUES FROM ('2026-11-29') TO ('2026-11-30');
CREATE TABLE realtime.messages_2026_11_30 PARTITION OF realtime.messages FOR VALUES FROM ('2026-11-30') TO ('2026-12-01');
CREATE TABLE realtime.messages_2026_12_01 PARTITION OF realtime.messages FOR VALUES FROM ('2026-12-01') TO ('2026-12-02');
CREATE INDEX messages_inserted_at_topic_index ON realtime.messages (inserted_at DESC, topic) WHERE extension = 'broadcast' AND private IS TRUE;
ALTER TABLE realtime.messages ENABLE ROW LEVEL SECURITY;
GRANT USAGE ON SCHEMA realtime TO postgres, anon, authenticated, service_role;
GRANT ALL ON ALL TABLES IN SCHEMA realtime TO postgres, dashboard_user, supabase_realtime_admin;
GRANT ALL ON ALL SEQUENCES IN SCHEMA realtime TO postgres, dashboard_user, supabase_realtime_admin;
GRANT SELECT, INSERT, UPDATE ON realtime.messages TO anon, authenticated, service_role;
ALTER TABLE realtime.messages OWNER TO supabase_realtime_admin;
ALTER TABLE realtime.subscription OWNER TO supabase_admin;
ALTER TABLE realtime.schema_migrations OWNER TO supabase_admin;
`

/** The user's app, as `postgres` (or, where hosted Supabase lets the dashboard do it, as supabase_admin). */
export const APP_SQL = String.raw`
CREATE TABLE public.profiles (
  id uuid PRIMARY KEY REFERENCES auth.users (id) ON DELETE CASCADE, username text UNIQUE, avatar_url text,
  updated_at timestamptz DEFAULT now()
);
ALTER TABLE public.profiles ENABLE ROW LEVEL SECURITY;
CREATE POLICY "Public profiles are viewable by everyone." ON public.profiles FOR SELECT TO anon, authenticated USING (true);
CREATE POLICY "Users can insert their own profile." ON public.profiles FOR INSERT TO authenticated WITH CHECK ((SELECT auth.uid()) = id);
CREATE POLICY "Users can update own profile." ON public.profiles FOR UPDATE TO authenticated USING ((SELECT auth.uid()) = id);

CREATE TABLE public.todos (
  id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, user_id uuid NOT NULL DEFAULT auth.uid() REFERENCES auth.users (id),
  task text CHECK (char_length(task) > 3), is_complete boolean DEFAULT false, inserted_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE public.todos ENABLE ROW LEVEL SECURITY;
CREATE POLICY "Individuals can create todos." ON public.todos FOR INSERT TO authenticated WITH CHECK ((SELECT auth.uid()) = user_id);
CREATE POLICY "Individuals can view their own todos." ON public.todos FOR SELECT TO authenticated USING ((SELECT auth.uid()) = user_id);
CREATE POLICY "Individuals can update their own todos." ON public.todos FOR UPDATE TO authenticated USING ((SELECT auth.uid()) = user_id);
CREATE POLICY "Individuals can delete their own todos." ON public.todos FOR DELETE TO authenticated USING ((SELECT auth.uid()) = user_id);
CREATE INDEX todos_user_id_idx ON public.todos (user_id);

CREATE TABLE public.todo_audit (id bigserial PRIMARY KEY, todo_id bigint NOT NULL, action text NOT NULL, at timestamptz NOT NULL DEFAULT now());
ALTER TABLE public.todo_audit ENABLE ROW LEVEL SECURITY;
CREATE FUNCTION public.audit_todo() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  INSERT INTO public.todo_audit (todo_id, action) VALUES (NEW.id, TG_OP);
  RETURN NEW;
END $$;
CREATE TRIGGER todos_audit AFTER INSERT OR UPDATE ON public.todos FOR EACH ROW EXECUTE FUNCTION public.audit_todo();

CREATE FUNCTION public.handle_new_user() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  INSERT INTO public.profiles (id, username) VALUES (NEW.id, NEW.raw_user_meta_data ->> 'username');
  RETURN NEW;
END $$;
REVOKE EXECUTE ON FUNCTION public.handle_new_user() FROM anon, authenticated, PUBLIC;

-- A table the API must not see: the default privileges granted it to anon and authenticated.
CREATE TABLE public.internal_notes (id int PRIMARY KEY, note text NOT NULL);
REVOKE ALL ON public.internal_notes FROM anon, authenticated;

ALTER PUBLICATION supabase_realtime ADD TABLE public.todos;
`

/** Done where hosted Supabase lets the dashboard do it for the user: triggers and policies on platform tables. */
export const APP_ON_PLATFORM_SQL = String.raw`
CREATE TRIGGER on_auth_user_created AFTER INSERT ON auth.users FOR EACH ROW EXECUTE FUNCTION public.handle_new_user();
CREATE POLICY "Avatar images are publicly accessible." ON storage.objects FOR SELECT TO anon, authenticated USING (bucket_id = 'avatars');
CREATE POLICY "Users upload their own avatar." ON storage.objects FOR INSERT TO authenticated
  WITH CHECK (bucket_id = 'avatars' AND (storage.foldername(name))[1] = (SELECT auth.uid())::text);
`

export const APP_DATA_SQL = String.raw`
INSERT INTO auth.users (instance_id, id, aud, role, email, raw_user_meta_data, created_at, updated_at)
SELECT '00000000-0000-0000-0000-000000000000', ('00000000-0000-0000-0000-' || lpad(i::text, 12, '0'))::uuid, 'authenticated', 'authenticated',
  'user' || i || '@example.com', jsonb_build_object('username', 'user' || i), '2026-11-01'::timestamptz + i * interval '1 hour', '2026-11-02'
FROM generate_series(1, 20) i;
INSERT INTO auth.identities (id, user_id, identity_data, provider, created_at)
SELECT u.id::text, u.id, jsonb_build_object('sub', u.id::text, 'email', u.email), 'email', u.created_at FROM auth.users u;
INSERT INTO auth.refresh_tokens (token, user_id, revoked, created_at)
SELECT md5(i::text), ('00000000-0000-0000-0000-' || lpad((1 + i % 20)::text, 12, '0')), false, '2026-11-03' FROM generate_series(1, 30) i;
INSERT INTO public.todos (user_id, task, is_complete, inserted_at)
SELECT ('00000000-0000-0000-0000-' || lpad((1 + i % 20)::text, 12, '0'))::uuid, 'task number ' || i, i % 3 = 0, '2026-11-05'::timestamptz + i * interval '1 minute'
FROM generate_series(1, 50) i;
INSERT INTO public.internal_notes VALUES (1, 'not for the API'), (2, 'neither is this');
INSERT INTO storage.buckets (id, name, public) VALUES ('avatars', 'avatars', false);
INSERT INTO storage.objects (bucket_id, name, owner, metadata)
SELECT 'avatars', ('00000000-0000-0000-0000-' || lpad(i::text, 12, '0')) || '/avatar.png', ('00000000-0000-0000-0000-' || lpad(i::text, 12, '0'))::uuid,
  jsonb_build_object('size', 1000 + i, 'mimetype', 'image/png')
FROM generate_series(1, 10) i;
INSERT INTO realtime.messages (topic, extension, payload, event, inserted_at)
SELECT 'room:' || (i % 3), 'broadcast', jsonb_build_object('n', i), 'msg', '2026-11-29'::timestamp + i * interval '1 hour' FROM generate_series(1, 60) i;
INSERT INTO realtime.subscription (subscription_id, entity, claims, claims_role)
SELECT gen_random_uuid(), 'public.todos'::regclass, '{"role": "authenticated"}', 'authenticated'::regrole FROM generate_series(1, 25);
SELECT lo_from_bytea(0, 'a large object the app keeps');
`

export interface SupabaseCluster {
  cluster: TestCluster
  /** A URL for the database as `postgres` (NOSUPERUSER, as on the platform). */
  urlAsPostgres(database: string): string
  /** Creates a database with the platform only: a new project. */
  newProject(database: string): Promise<void>
  /** Creates a database with the platform, the app and its rows: the project to back up. */
  project(database: string): Promise<void>
}

/** A cluster bootstrapped as supabase_admin with the platform's roles. */
export async function startSupabase(): Promise<SupabaseCluster> {
  const cluster = await startCluster({ superuser: 'supabase_admin' })
  await cluster.query('postgres', PLATFORM_ROLES(cluster.password))
  const urlAsPostgres = (database: string) => cluster.url(database).replace('//supabase_admin:', '//postgres:')
  const asPostgres = async (database: string, sql: string) => {
    const { default: pg } = await import('pg')
    const client = new pg.Client({ connectionString: urlAsPostgres(database) })
    await client.connect()
    try {
      await client.query(sql)
    } finally {
      await client.end()
    }
  }
  const newProject = async (database: string) => {
    await cluster.createDatabase(database)
    await cluster.query(database, PLATFORM_SQL)
  }
  return {
    cluster,
    urlAsPostgres,
    newProject,
    project: async database => {
      await newProject(database)
      await asPostgres(database, APP_SQL)
      await cluster.query(database, APP_ON_PLATFORM_SQL)
      await asPostgres(database, APP_DATA_SQL)
    }
  }
}

/** The reserved roles of a Supabase project, as the CLI's dump scripts list them. */
export const SUPABASE_ROLES = [
  'anon',
  'authenticated',
  'authenticator',
  'dashboard_user',
  'pgbouncer',
  'service_role',
  'supabase_auth_admin',
  'supabase_read_only_user',
  'supabase_realtime_admin',
  'supabase_replication_admin',
  'supabase_storage_admin'
]
