// Policy pack entry point: `pulumi preview --policy-pack policy` (from infra/) enforces every rule.
import { PolicyPack } from '@pulumi/policy'
import { policies, stackPolicies } from './policies.js'

new PolicyPack('whatsapp-saas-aws', {
  enforcementLevel: 'mandatory',
  policies: [...policies, ...stackPolicies],
})
