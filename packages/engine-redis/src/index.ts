export { createRedisEngine, RedisEngine, type RedisEngineOptions } from './redis-engine.js';
