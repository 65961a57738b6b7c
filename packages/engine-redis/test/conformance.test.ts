import { afterAll } from 'vitest';
import { runEngineConformance } from '@taskwire/server/testing';
import { createRedisEngine } from '../src/index.js';
import { startCluster, startRedis, stopAllRedis, type RedisCluster, type RedisServer } from './helpers/redis.js';

afterAll(stopAllRedis);

let single: Promise<RedisServer> | undefined;
runEngineConformance('redis (single)', async (limits) => {
  single ??= startRedis();
  const server = await single;
  return createRedisEngine({ url: server.url, prefix: 'conf', ...(limits ? { limits } : {}) });
});

let cluster: Promise<RedisCluster> | undefined;
runEngineConformance('redis (3-master cluster)', async (limits) => {
  cluster ??= startCluster();
  const c = await cluster;
  return createRedisEngine({ cluster: c.urls, prefix: 'conf', ...(limits ? { limits } : {}) });
});
