import { changeRateTier as setRateTier, changeSponsor as handOver, resumePartner, suspendPartner } from '../commands.js';
import type { AppDeps } from '../deps.js';
import * as commands from '../lifecycle-commands.js';
import type { RateLimiter } from '../rate-limit.js';
import type { AppRouteHandler } from '../router.js';
import type * as routes from './lifecycle.routes.js';

// The lifecycle commands are services (api/lifecycle-commands.ts; the console's and the portal's
// forms call the same functions); a handler reads the request and shapes the answer.

export function createLifecycleHandlers(deps: AppDeps, limiter: RateLimiter) {
  const decide: AppRouteHandler<typeof routes.decide> = async (c) => {
    const { id } = c.req.valid('param');
    return c.json(await commands.decide(deps, limiter, c.get('principal'), id, c.req.valid('json')), 200);
  };

  const recertify: AppRouteHandler<typeof routes.recertify> = async (c) => {
    const { id } = c.req.valid('param');
    return c.json(await commands.recertify(deps, limiter, c.get('principal'), id, c.req.valid('json')), 200);
  };

  const requestExtension: AppRouteHandler<typeof routes.requestExtension> = async (c) => {
    const { id } = c.req.valid('param');
    return c.json(await commands.requestExtension(deps, c.get('principal'), id, c.req.valid('json')), 200);
  };

  const offboard: AppRouteHandler<typeof routes.offboard> = async (c) => {
    const { id } = c.req.valid('param');
    return c.json(await commands.planOffboarding(deps, c.get('principal'), id, c.req.valid('json')), 200);
  };

  const revoke: AppRouteHandler<typeof routes.revoke> = async (c) => {
    const { id } = c.req.valid('param');
    return c.json(await commands.revoke(deps, c.get('principal'), id, c.req.valid('json'), c.get('log')), 202);
  };

  // governance commands: the services in api/commands.ts (the console pages call them too)
  const suspend: AppRouteHandler<typeof routes.suspend> = async (c) => {
    const { id } = c.req.valid('param');
    return c.json(await suspendPartner(deps, c.get('principal'), id, c.req.valid('json')), 200);
  };

  const resume: AppRouteHandler<typeof routes.resume> = async (c) => {
    const { id } = c.req.valid('param');
    return c.json(await resumePartner(deps, c.get('principal'), id, c.req.valid('json')), 200);
  };

  const changeSponsor: AppRouteHandler<typeof routes.changeSponsor> = async (c) => {
    const { id } = c.req.valid('param');
    return c.json(await handOver(deps, c.get('principal'), id, c.req.valid('json')), 200);
  };

  const changeRateTier: AppRouteHandler<typeof routes.changeRateTier> = async (c) => {
    const { id } = c.req.valid('param');
    return c.json(await setRateTier(deps, c.get('principal'), id, c.req.valid('json')), 200);
  };

  return { decide, recertify, requestExtension, offboard, revoke, suspend, resume, changeSponsor, changeRateTier };
}
