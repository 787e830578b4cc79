/* eslint-disable */
import * as types from './graphql.ts';
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';

/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "mutation DecommissionGateway($input: DecommissionGatewayInput!) {\n  decommissionGateway(input: $input) {\n    decommissionedGatewayId\n    userErrors {\n      field\n      message\n      code\n    }\n  }\n}": typeof types.DecommissionGatewayDocument,
    "query GatewayOverview($id: ID!, $quantity: Quantity) {\n  gateway(id: $id) {\n    id\n    name\n    tenant\n    arch\n    status\n    lastSeen\n    location {\n      latitude\n      longitude\n      address\n    }\n    mesh {\n      size\n    }\n    observation {\n      freshness\n      observedAt\n    }\n    node {\n      name\n      ready\n      kubeletVersion\n    }\n    vrouter {\n      name\n      ipAddress\n    }\n    sensors(quantity: $quantity) {\n      id\n      name\n      quantity\n      unit\n      room\n      latest {\n        time\n        value\n      }\n    }\n  }\n}": typeof types.GatewayOverviewDocument,
    "subscription LiveCityBatches($gatewayId: ID, $sensorIds: [ID!], $quantity: Quantity, $after: String) {\n  readingBatches(\n    gatewayId: $gatewayId\n    sensorIds: $sensorIds\n    quantity: $quantity\n    after: $after\n  ) {\n    cursor\n    time\n    value\n    sensor {\n      id\n      quantity\n      room\n      gateway {\n        id\n        name\n      }\n    }\n  }\n}": typeof types.LiveCityBatchesDocument,
    "subscription LiveReadings($gatewayId: ID!, $quantity: Quantity, $after: String) {\n  readings(gatewayId: $gatewayId, quantity: $quantity, after: $after) {\n    cursor\n    time\n    value\n    sensor {\n      id\n      name\n      quantity\n      unit\n      room\n    }\n  }\n}": typeof types.LiveReadingsDocument,
    "mutation RegisterGateway($input: RegisterGatewayInput!) {\n  registerGateway(input: $input) {\n    gateway {\n      id\n      name\n      tenant\n      arch\n      status\n      registeredAt\n    }\n    collector {\n      podName\n      namespace\n    }\n    mqttCredentials {\n      username\n      password\n      clientId\n      requestTopic\n      responseTopic\n    }\n    userErrors {\n      field\n      message\n      code\n    }\n  }\n}": typeof types.RegisterGatewayDocument,
    "query SensorHistory($id: ID!, $from: DateTime, $until: DateTime, $every: Duration, $aggregate: Aggregate) {\n  sensor(id: $id) {\n    id\n    name\n    quantity\n    unit\n    room\n    readings(from: $from, until: $until, every: $every, aggregate: $aggregate) {\n      time\n      value\n    }\n  }\n}": typeof types.SensorHistoryDocument,
    "query TrafficAtCrossing($id: ID!, $from: DateTime, $every: Duration) {\n  intersection(id: $id) {\n    id\n    name\n    location {\n      latitude\n      longitude\n    }\n    traffic(from: $from, every: $every) {\n      time\n      vehicles\n      pedestrians\n    }\n  }\n}": typeof types.TrafficAtCrossingDocument,
};
const documents: Documents = {
    "mutation DecommissionGateway($input: DecommissionGatewayInput!) {\n  decommissionGateway(input: $input) {\n    decommissionedGatewayId\n    userErrors {\n      field\n      message\n      code\n    }\n  }\n}": types.DecommissionGatewayDocument,
    "query GatewayOverview($id: ID!, $quantity: Quantity) {\n  gateway(id: $id) {\n    id\n    name\n    tenant\n    arch\n    status\n    lastSeen\n    location {\n      latitude\n      longitude\n      address\n    }\n    mesh {\n      size\n    }\n    observation {\n      freshness\n      observedAt\n    }\n    node {\n      name\n      ready\n      kubeletVersion\n    }\n    vrouter {\n      name\n      ipAddress\n    }\n    sensors(quantity: $quantity) {\n      id\n      name\n      quantity\n      unit\n      room\n      latest {\n        time\n        value\n      }\n    }\n  }\n}": types.GatewayOverviewDocument,
    "subscription LiveCityBatches($gatewayId: ID, $sensorIds: [ID!], $quantity: Quantity, $after: String) {\n  readingBatches(\n    gatewayId: $gatewayId\n    sensorIds: $sensorIds\n    quantity: $quantity\n    after: $after\n  ) {\n    cursor\n    time\n    value\n    sensor {\n      id\n      quantity\n      room\n      gateway {\n        id\n        name\n      }\n    }\n  }\n}": types.LiveCityBatchesDocument,
    "subscription LiveReadings($gatewayId: ID!, $quantity: Quantity, $after: String) {\n  readings(gatewayId: $gatewayId, quantity: $quantity, after: $after) {\n    cursor\n    time\n    value\n    sensor {\n      id\n      name\n      quantity\n      unit\n      room\n    }\n  }\n}": types.LiveReadingsDocument,
    "mutation RegisterGateway($input: RegisterGatewayInput!) {\n  registerGateway(input: $input) {\n    gateway {\n      id\n      name\n      tenant\n      arch\n      status\n      registeredAt\n    }\n    collector {\n      podName\n      namespace\n    }\n    mqttCredentials {\n      username\n      password\n      clientId\n      requestTopic\n      responseTopic\n    }\n    userErrors {\n      field\n      message\n      code\n    }\n  }\n}": types.RegisterGatewayDocument,
    "query SensorHistory($id: ID!, $from: DateTime, $until: DateTime, $every: Duration, $aggregate: Aggregate) {\n  sensor(id: $id) {\n    id\n    name\n    quantity\n    unit\n    room\n    readings(from: $from, until: $until, every: $every, aggregate: $aggregate) {\n      time\n      value\n    }\n  }\n}": types.SensorHistoryDocument,
    "query TrafficAtCrossing($id: ID!, $from: DateTime, $every: Duration) {\n  intersection(id: $id) {\n    id\n    name\n    location {\n      latitude\n      longitude\n    }\n    traffic(from: $from, every: $every) {\n      time\n      vehicles\n      pedestrians\n    }\n  }\n}": types.TrafficAtCrossingDocument,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 *
 *
 * @example
 * ```ts
 * const query = graphql(`query GetUser($id: ID!) { user(id: $id) { name } }`);
 * ```
 *
 * The query argument is unknown!
 * Please regenerate the types.
 */
export function graphql(source: string): unknown;

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation DecommissionGateway($input: DecommissionGatewayInput!) {\n  decommissionGateway(input: $input) {\n    decommissionedGatewayId\n    userErrors {\n      field\n      message\n      code\n    }\n  }\n}"): (typeof documents)["mutation DecommissionGateway($input: DecommissionGatewayInput!) {\n  decommissionGateway(input: $input) {\n    decommissionedGatewayId\n    userErrors {\n      field\n      message\n      code\n    }\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query GatewayOverview($id: ID!, $quantity: Quantity) {\n  gateway(id: $id) {\n    id\n    name\n    tenant\n    arch\n    status\n    lastSeen\n    location {\n      latitude\n      longitude\n      address\n    }\n    mesh {\n      size\n    }\n    observation {\n      freshness\n      observedAt\n    }\n    node {\n      name\n      ready\n      kubeletVersion\n    }\n    vrouter {\n      name\n      ipAddress\n    }\n    sensors(quantity: $quantity) {\n      id\n      name\n      quantity\n      unit\n      room\n      latest {\n        time\n        value\n      }\n    }\n  }\n}"): (typeof documents)["query GatewayOverview($id: ID!, $quantity: Quantity) {\n  gateway(id: $id) {\n    id\n    name\n    tenant\n    arch\n    status\n    lastSeen\n    location {\n      latitude\n      longitude\n      address\n    }\n    mesh {\n      size\n    }\n    observation {\n      freshness\n      observedAt\n    }\n    node {\n      name\n      ready\n      kubeletVersion\n    }\n    vrouter {\n      name\n      ipAddress\n    }\n    sensors(quantity: $quantity) {\n      id\n      name\n      quantity\n      unit\n      room\n      latest {\n        time\n        value\n      }\n    }\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "subscription LiveCityBatches($gatewayId: ID, $sensorIds: [ID!], $quantity: Quantity, $after: String) {\n  readingBatches(\n    gatewayId: $gatewayId\n    sensorIds: $sensorIds\n    quantity: $quantity\n    after: $after\n  ) {\n    cursor\n    time\n    value\n    sensor {\n      id\n      quantity\n      room\n      gateway {\n        id\n        name\n      }\n    }\n  }\n}"): (typeof documents)["subscription LiveCityBatches($gatewayId: ID, $sensorIds: [ID!], $quantity: Quantity, $after: String) {\n  readingBatches(\n    gatewayId: $gatewayId\n    sensorIds: $sensorIds\n    quantity: $quantity\n    after: $after\n  ) {\n    cursor\n    time\n    value\n    sensor {\n      id\n      quantity\n      room\n      gateway {\n        id\n        name\n      }\n    }\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "subscription LiveReadings($gatewayId: ID!, $quantity: Quantity, $after: String) {\n  readings(gatewayId: $gatewayId, quantity: $quantity, after: $after) {\n    cursor\n    time\n    value\n    sensor {\n      id\n      name\n      quantity\n      unit\n      room\n    }\n  }\n}"): (typeof documents)["subscription LiveReadings($gatewayId: ID!, $quantity: Quantity, $after: String) {\n  readings(gatewayId: $gatewayId, quantity: $quantity, after: $after) {\n    cursor\n    time\n    value\n    sensor {\n      id\n      name\n      quantity\n      unit\n      room\n    }\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation RegisterGateway($input: RegisterGatewayInput!) {\n  registerGateway(input: $input) {\n    gateway {\n      id\n      name\n      tenant\n      arch\n      status\n      registeredAt\n    }\n    collector {\n      podName\n      namespace\n    }\n    mqttCredentials {\n      username\n      password\n      clientId\n      requestTopic\n      responseTopic\n    }\n    userErrors {\n      field\n      message\n      code\n    }\n  }\n}"): (typeof documents)["mutation RegisterGateway($input: RegisterGatewayInput!) {\n  registerGateway(input: $input) {\n    gateway {\n      id\n      name\n      tenant\n      arch\n      status\n      registeredAt\n    }\n    collector {\n      podName\n      namespace\n    }\n    mqttCredentials {\n      username\n      password\n      clientId\n      requestTopic\n      responseTopic\n    }\n    userErrors {\n      field\n      message\n      code\n    }\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query SensorHistory($id: ID!, $from: DateTime, $until: DateTime, $every: Duration, $aggregate: Aggregate) {\n  sensor(id: $id) {\n    id\n    name\n    quantity\n    unit\n    room\n    readings(from: $from, until: $until, every: $every, aggregate: $aggregate) {\n      time\n      value\n    }\n  }\n}"): (typeof documents)["query SensorHistory($id: ID!, $from: DateTime, $until: DateTime, $every: Duration, $aggregate: Aggregate) {\n  sensor(id: $id) {\n    id\n    name\n    quantity\n    unit\n    room\n    readings(from: $from, until: $until, every: $every, aggregate: $aggregate) {\n      time\n      value\n    }\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query TrafficAtCrossing($id: ID!, $from: DateTime, $every: Duration) {\n  intersection(id: $id) {\n    id\n    name\n    location {\n      latitude\n      longitude\n    }\n    traffic(from: $from, every: $every) {\n      time\n      vehicles\n      pedestrians\n    }\n  }\n}"): (typeof documents)["query TrafficAtCrossing($id: ID!, $from: DateTime, $every: Duration) {\n  intersection(id: $id) {\n    id\n    name\n    location {\n      latitude\n      longitude\n    }\n    traffic(from: $from, every: $every) {\n      time\n      vehicles\n      pedestrians\n    }\n  }\n}"];

export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}

export type DocumentType<TDocumentNode extends DocumentNode<any, any>> = TDocumentNode extends DocumentNode<  infer TType,  any>  ? TType  : never;