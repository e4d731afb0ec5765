import type { BackendContribution } from 'oproc';

export default async function backends(): Promise<BackendContribution> {
  return {};
}
