import { InputError } from '../errors.js'
import { HttpManagementApi, type ManagementApi } from '../supabase/api.js'
import { projectRefFrom } from '../supabase/platform.js'
import { sourceConnection, type Context } from './context.js'

/** The project ref: `supabase-project-ref`, else derived from database-url. */
export function projectRef(ctx: Context): string {
  const given = ctx.settings.supabase.projectRef
  if (given) return given
  const conn = ctx.settings.databaseUrl ? sourceConnection(ctx) : undefined
  const derived = projectRefFrom(conn?.host, conn?.user)
  if (!derived)
    throw new InputError(
      'supabase-project-ref',
      'is required: it could not be derived from database-url (db.<ref>.supabase.co or the pooler user postgres.<ref>)'
    )
  return derived
}

export function managementApi(ctx: Context): ManagementApi {
  const token = ctx.settings.supabase.accessToken
  if (!token) throw new InputError('supabase-access-token', 'is required to reach the Supabase Management API')
  return new HttpManagementApi(ctx.settings.supabase.apiUrl, token, ctx.sleep)
}
